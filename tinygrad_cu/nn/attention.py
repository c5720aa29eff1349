"""Attention: functional.scaled_dot_product_attention and nn.MultiheadAttention, as PyTorch.

A documented composite of ops that have kernels: two batched matmuls around the fused
softmax op, an additive mask, and dropout,

    attention(Q, K, V) = dropout(softmax(Q K^T * scale + mask)) V,   scale = 1 / sqrt(d)

(Vaswani et al. 2017). Masks become one additive float tensor: 0 where a query may look
at a key, -inf where not. scaled_dot_product_attention's boolean attn_mask says True =
may attend (PyTorch's SDPA convention); MultiheadAttention's boolean attn_mask and
key_padding_mask say True = masked out (PyTorch's MHA convention); float masks are added
as they are. enable_gqa (grouped-query attention, Ainslie et al. 2023): query has Hq
heads in dim -3, key Hk and value Hv, each dividing Hq; query head h reads key/value head
h // (Hq / Hk), as PyTorch's repeat_interleave of K and V. With Hk == Hv nothing is
repeated: the queries are viewed as (..., Hk, Hq / Hk, L, E) and K, V as
(..., Hk, 1, S, E), and the batched matmuls broadcast K and V over each group (a mask is
expanded and viewed the same way); with Hk != Hv, K and V are repeated to Hq heads.
is_causal masks keys after the query (the upper triangle), a constant
built once per size and device. Boolean masks given as Tensors are read on the host to
build the additive mask (numpy masks cost no copy back). A query row with every key
masked gives NaN, as in PyTorch.
"""
import functools
import math

import numpy as np

from ..errors import OpError
from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter


@functools.lru_cache(maxsize=64)
def _causal(L, S, device, dtype):
    allowed = np.tril(np.ones((L, S), bool))
    return Tensor(np.where(allowed, 0.0, -np.inf), dtype=dtype, device=device)


def _additive(mask, q, true_means_masked):
    """A boolean or float mask as an additive float Tensor on q's device."""
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.dtype.kind == "f":
        return mask if mask.dtype == q.dtype else mask.to(q.dtype)
    m = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == bool:
        blocked = m if true_means_masked else ~m
        return Tensor(np.where(blocked, -np.inf, 0.0), dtype=q.dtype, device=q.device)
    return Tensor(m, dtype=q.dtype, device=q.device)


def _attend(q, k, v, mask, dropout_p, training):
    """(output, attention weights) for q (..., L, d), k (..., S, d), v (..., S, dv)."""
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    weights = F.softmax(scores, dim=-1)
    if dropout_p and training:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ v, weights


def _repeat_heads(t, times):
    """(..., H, S, E) -> (..., H * times, S, E), each head `times` times in a row."""
    *batch, h, s, e = t.shape
    return t.reshape(*batch, h, 1, s, e).expand(*batch, h, times, s, e).reshape(*batch, h * times, s, e)


def _grouped(query, key, value, mask):
    """enable_gqa: (query, key, value, mask) viewed as groups of query heads sharing one
    key/value head (header), or an error naming the head counts."""
    if query.ndim < 3:
        raise OpError(f"scaled_dot_product_attention: enable_gqa needs a heads dim (-3), got query "
                      f"{query.shape}")
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hk < 1 or hv < 1 or hq % hk or hq % hv:
        raise OpError(f"scaled_dot_product_attention: enable_gqa needs the query heads ({hq}) to be a multiple "
                      f"of the key heads ({hk}) and of the value heads ({hv}); query {query.shape}, key "
                      f"{key.shape}, value {value.shape}")
    if hk != hv:
        key, value, hk = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hv), hq
    per_group, (length, s) = hq // hk, (query.shape[-2], key.shape[-2])
    query = query.reshape(*query.shape[:-3], hk, per_group, length, query.shape[-1])
    key, value = (t.reshape(*t.shape[:-3], hk, 1, s, t.shape[-1]) for t in (key, value))
    if mask is not None:
        full = np.broadcast_shapes(mask.shape, query.shape[:-4] + (hq, length, s))
        mask = mask.expand(*full).reshape(*full[:-3], hk, per_group, length, s)
    return query, key, value, mask


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); with
    enable_gqa, query (..., Hq, L, E) and key / value (..., Hk, S, E), Hk dividing Hq."""
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"scaled_dot_product_attention: query {query.shape}, key {key.shape} and value "
                         f"{value.shape} must have the same rank >= 2")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {query.shape}, key {key.shape} and value "
                         f"{value.shape} do not fit: need E(query) = E(key) and S(key) = S(value)")
    if is_causal and attn_mask is not None:
        raise OpError("scaled_dot_product_attention: give attn_mask or is_causal, not both")   # PyTorch: RuntimeError
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    mask = _causal(query.shape[-2], key.shape[-2], query.device, query.dtype) if is_causal \
        else _additive(attn_mask, query, true_means_masked=False)
    if enable_gqa:
        heads = query.shape[-3] if query.ndim >= 3 else None
        out = _attend(*_grouped(query * scale, key, value, mask), dropout_p, True)[0]
        return out.reshape(*out.shape[:-4], heads, *out.shape[-2:])          # the groups joined again
    return _attend(query * scale, key, value, mask, dropout_p, True)[0]


class MultiheadAttention(Module):
    """num_heads attention heads over embed_dim / num_heads dims each, with PyTorch's
    parameters (in_proj_weight (3E, E), in_proj_bias, out_proj) and forward's arguments;
    returns (output, weights averaged over heads | per head | None)."""
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn or kdim not in (None, embed_dim) or vdim not in (None, embed_dim):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim other than "
                                      "embed_dim are not implemented")
        self.embed_dim, self.num_heads, self.dropout = int(embed_dim), int(num_heads), float(dropout)
        self.head_dim, self.batch_first = embed_dim // num_heads, bool(batch_first)
        dtype = np.float32 if dtype is None else dtype
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim)), device=device, dtype=dtype)
        init.xavier_uniform_(self.in_proj_weight)
        self.register_parameter("in_proj_bias", Parameter(np.zeros(3 * embed_dim), device=device, dtype=dtype)
                                if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _project(self, x, i):
        e = self.embed_dim
        w = self.in_proj_weight[i * e:(i + 1) * e]
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * e:(i + 1) * e]
        n, length = x.shape[:2]
        # (N, L, E) -> (N, heads, L, head_dim)
        return F.linear(x, w, b).reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if query.ndim != 3:
            raise NotImplementedError(f"MultiheadAttention: expected batched 3-D inputs, got {query.shape}")
        if not self.batch_first:                       # (L, N, E) -> (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, length, _ = query.shape
        s = key.shape[1]
        q = self._project(query, 0) * (1.0 / math.sqrt(self.head_dim))
        k, v = self._project(key, 1), self._project(value, 2)
        mask = _causal(length, s, query.device, query.dtype) if is_causal and attn_mask is None \
            else _additive(attn_mask, q, true_means_masked=True)
        if mask is not None and mask.ndim == 3:         # (N * heads, L, S)
            mask = mask.reshape(n, self.num_heads, length, s)
        padding = _additive(key_padding_mask, q, true_means_masked=True)
        if padding is not None:                         # (N, S): the same for every head and query
            padding = padding.reshape(n, 1, 1, s)
            mask = padding if mask is None else mask + padding
        out, weights = _attend(q, k, v, mask, self.dropout, self.training)
        out = self.out_proj(out.permute(0, 2, 1, 3).reshape(n, length, self.embed_dim))
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(axis=1) if average_attn_weights else weights)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
