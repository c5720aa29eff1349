"""What the examples and the tutorial share, importable from anywhere:

    training.py        arguments, data splits, the training loop, report and checkpoint
    pictures.py        learning curves and weight mosaics (matplotlib, the 'examples' extra)
    progress.py        an epoch's progress: a tqdm bar on a terminal, a line per N batches in a log
    backward_timing.py each graph node's share of one backward pass (for tg.draw_graph)
    data_parallel.py   --distributed: the few places where training over MPI differs

Kept small and plain on purpose: it is example code a student reads and edits.
"""
