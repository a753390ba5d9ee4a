"""Pieces packed into samples: first-fit over a window of open samples, at exact lengths."""
from __future__ import annotations

from operator import itemgetter
from typing import List, Tuple

# Samples kept open at once while packing: a piece goes to the first open sample it fits.
PACK_WINDOW = 8
# A sample with less room than this left is closed at once.
_NEARLY_FULL = 4


class Packer:
    """First-fit packing over a window of open samples, in document order.

    A piece joins the oldest open sample it fits (the sample's exact length after
    Part B, ``n + 2m``, stays within seq_len) and that holds no other piece of its
    document (a document was split because it does not fit one sample), provided an
    ENC or eos separates it from the piece before it (so spans of two pieces never
    touch). When it fits none, it opens a sample, closing the oldest when ``PACK_WINDOW`` are open. A
    sample's objective is fixed by its first piece. Closed samples come out in the
    order they close.
    """

    def __init__(self, limit: int, window: int = PACK_WINDOW):
        self.limit = limit
        self.window = window
        self.open: List[list] = []      # [pieces, used, objective, key of the last piece, it ends with eos]
        self.closed: List[Tuple[List[int], int]] = []

    def pack(self, keys: List[str], opens: List[bool], closes: List[bool], costs: List[List[int]],
             first_objective: List[int], start: int) -> None:
        """Place pieces ``start:``; ``opens``/``closes``: the piece starts with ENC / ends with eos."""
        limit = self.limit
        for i in range(start, len(keys)):
            key = keys[i]
            for b in self.open:
                if b[3] != key and (b[4] or opens[i]) and b[1] + costs[b[2]][i] <= limit:
                    b[0].append(i)
                    b[1] += costs[b[2]][i]
                    b[3] = key
                    b[4] = closes[i]
                    if limit - b[1] < _NEARLY_FULL:
                        self.open.remove(b)
                        self.closed.append((b[0], b[2]))
                    break
            else:
                if len(self.open) == self.window:
                    fullest = max(self.open, key=itemgetter(1))   # the oldest of the fullest
                    self.open.remove(fullest)
                    self.closed.append((fullest[0], fullest[2]))
                objective = first_objective[i]
                self.open.append([[i], costs[objective][i], objective, key, closes[i]])

    def drain(self) -> List[Tuple[List[int], int]]:
        out = [(b[0], b[2]) for b in self.open]
        self.open = []
        return out

    def renumber_open(self) -> List[int]:
        """Pieces of the open samples, in order; the samples now refer to positions in that list."""
        pieces: List[int] = []
        for b in self.open:
            first = len(pieces)
            pieces.extend(b[0])
            b[0] = list(range(first, len(pieces)))
        return pieces

