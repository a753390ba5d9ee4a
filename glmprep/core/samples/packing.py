"""Pieces packed into samples: best-fit over a window of open samples, at exact lengths."""
from __future__ import annotations

from operator import itemgetter
from typing import List, Tuple

# Samples kept open at once while packing: a piece goes to the open sample it fills most.
# (8 open samples, first-fit, left 4 % of the rows of the debref corpora empty; 32, best-fit,
# under 3 %; more gains nothing measurable there.)
PACK_WINDOW = 32
# A sample with less room than this left is closed at once.
_NEARLY_FULL = 4


class Packer:
    """Best-fit packing over a window of open samples, in document order.

    A piece joins the open sample it leaves fullest (the oldest of those on a tie): one
    where the sample's exact length after Part B, ``n + 2m``, stays within seq_len, that
    holds no other piece of its document (a document was split because it does not fit
    one sample), and where an ENC or eos separates it from the piece before it (so spans
    of two pieces never touch). When it fits none, it opens a sample, closing the fullest
    (the oldest of the fullest) when ``PACK_WINDOW`` are open. A sample's objective is
    fixed by its first piece. Closed samples come out in the order they close.

    ``first_fit``: the oldest open sample the piece fits instead (the packing before best-fit,
    which ``bench/samples.py --fill`` measures against).
    """

    def __init__(self, limit: int, window: int = PACK_WINDOW, first_fit: bool = False):
        self.limit = limit
        self.window = window
        self.first_fit = first_fit
        self.open: List[list] = []      # [pieces, used, objective, key of the last piece, it ends with eos]
        self.closed: List[Tuple[List[int], int]] = []

    def pack(self, keys: List[str], opens: List[bool], closes: List[bool], costs: List[List[int]],
             first_objective: List[int], start: int) -> None:
        """Place pieces ``start:``; ``opens``/``closes``: the piece starts with ENC / ends with eos."""
        limit, first_fit = self.limit, self.first_fit
        for i in range(start, len(keys)):
            key, opens_i = keys[i], opens[i]
            best, best_used = None, -1
            for b in self.open:
                used = b[1] + costs[b[2]][i]
                if best_used < used <= limit and b[3] != key and (opens_i or b[4]):
                    best, best_used = b, used
                    if first_fit:
                        break
            if best is not None:
                best[0].append(i)
                best[1] = best_used
                best[3] = key
                best[4] = closes[i]
                if limit - best_used < _NEARLY_FULL:
                    self.open.remove(best)
                    self.closed.append((best[0], best[2]))
                continue
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
