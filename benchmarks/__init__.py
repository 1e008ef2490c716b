"""Speed and memory benchmarks of minidl against PyTorch on the CPU; see benchmarks/README.md.

Each module runs from the repository root: ``python -m benchmarks.conv --threads 1 2``.
"""
