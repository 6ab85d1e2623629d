"""CUDA-event timing shared by the benchmark drivers of this folder."""
import torch


def cuda_event_times(call, warmup, iterations):
    """Milliseconds of each of `iterations` CUDA-event timed calls of `call`, after `warmup` untimed calls (compilation included)."""
    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times
