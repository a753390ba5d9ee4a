"""The memo of DoFn method signatures (glmprep/pipeline/signatures.py) answers as Beam does."""
import functools

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, userstate
from apache_beam.transforms.userstate import BagStateSpec

from glmprep.pipeline import signatures


@pytest.fixture
def beams_own(monkeypatch):
    """Beam's own function, in place for one test (a local run earlier in the session may
    have installed the memo already); what was there is put back after it."""
    installed = core.get_function_args_defaults
    read = getattr(installed, "read", installed)
    monkeypatch.setattr(core, "get_function_args_defaults", read)
    return read


@pytest.fixture
def memo(beams_own):
    """Beam's own function, with a fresh memo of it installed for one test."""
    signatures.remember()
    assert core.get_function_args_defaults is not beams_own
    return beams_own


class CountPerKeyDoFn(beam.DoFn):
    COUNT = BagStateSpec("count", VarIntCoder())

    def process(self, element, count=beam.DoFn.StateParam(COUNT), key=beam.DoFn.KeyParam):
        count.add(1)
        yield key, sum(count.read())


class PlainDoFn(beam.DoFn):
    def process(self, element, scale=2):
        yield element * scale


def test_remembered_answers_equal_beams_for_each_kind_of_callable(memo):
    dofn = PlainDoFn()

    def with_default(a, b=3, *rest, c=4, **kw):
        return a

    callables = [dofn.process, PlainDoFn.process, with_default, lambda x, y=1: x,
                 functools.partial(with_default, 1), PlainDoFn, len, dofn.setup]
    for f in callables:
        for _ in range(2):  # the first ask fills the memo, the second reads it
            assert core.get_function_args_defaults(f) == memo(f), f


def test_bound_and_unbound_forms_of_one_function_keep_their_own_answers(memo):
    bound, unbound = PlainDoFn().process, PlainDoFn.process
    assert core.get_function_args_defaults(bound) == (["element", "scale"], [2])
    assert core.get_function_args_defaults(unbound) == (["self", "element", "scale"], [2])
    assert core.get_function_args_defaults(bound) == (["element", "scale"], [2])


def test_a_caller_changing_its_answer_does_not_change_the_memo(memo):
    args, defaults = core.get_function_args_defaults(PlainDoFn().process)
    args.append("changed")
    defaults.clear()
    assert core.get_function_args_defaults(PlainDoFn().process) == (["element", "scale"], [2])


def test_remember_twice_wraps_once(memo):
    installed = core.get_function_args_defaults
    signatures.remember()
    assert core.get_function_args_defaults is installed


def test_state_is_still_found_and_a_stateful_pipeline_still_runs(memo):
    assert userstate.is_stateful_dofn(CountPerKeyDoFn())
    assert not userstate.is_stateful_dofn(PlainDoFn())
    with TestPipeline() as p:
        counts = (p | beam.Create([("a", 1), ("a", 2), ("b", 3)])
                  | beam.ParDo(CountPerKeyDoFn())
                  | beam.combiners.Top.PerKey(1)
                  | beam.MapTuple(lambda key, top: (key, top[0])))
        assert_that(counts, equal_to([("a", 2), ("b", 1)]))


def test_a_local_pipeline_installs_the_memo(beams_own):
    from glmprep.pipeline.local import build_pipeline_options, new_pipeline

    new_pipeline(build_pipeline_options([]))
    assert isinstance(core.get_function_args_defaults, signatures._Memo)
