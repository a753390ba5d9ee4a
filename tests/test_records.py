"""Tests for glmprep.core.records: packed text and token bytes round-trip, short data is
stored as it is, the size is read from the header, and threads get their own codecs."""
import threading

import numpy as np
from hypothesis import given, settings, strategies as st

from glmprep.core.records import PACK_MIN_BYTES, pack, pack_text, packed_size, unpack, unpack_text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_pack_round_trips_any_bytes_and_records_their_size(data):
    packed = pack(data)
    assert unpack(packed) == data
    assert packed_size(packed) == len(data)


def test_short_data_is_stored_as_it_is_and_long_data_compressed():
    short = b"x" * (PACK_MIN_BYTES - 1)
    assert pack(short) == b"\x00" + short
    long = b"the same words again " * 100
    assert len(pack(long)) < len(long) // 3


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=500))
def test_pack_text_round_trips_any_str_lone_surrogates_included(text):
    assert unpack_text(pack_text(text)) == text


def test_token_ids_round_trip_as_bytes():
    ids = np.arange(0, 100_000, 7, dtype=np.uint32)
    assert np.array_equal(np.frombuffer(unpack(pack(ids.tobytes())), dtype=np.uint32), ids)


def test_threads_pack_and_unpack_at_once():
    texts = [f"document {i} " * (50 + i) for i in range(8)]
    results, errors = {}, []

    def work(i):
        try:
            for _ in range(50):
                results[i] = unpack_text(pack_text(texts[i]))
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [results[i] for i in range(len(texts))] == texts
