Sums = tuple[
    tuple[str, str, str, int],
    int,
    list[int],
    dict[str, int],
    dict[int, int],
    dict[int, int],
    float,
    int,
]

def completion_sums(
    data: bytes, *, shortest: int, log_gamma: float, min_indexable: float, zero_bin: int
) -> list[Sums] | None: ...
