"""proxy.pipe as transcripts: an established pipe's backpressure, half-close and ending, with
no sockets. The shell tests (test_proxy_faults.py, test_proxy_kafka.py) run the same paths on
real connections."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.pipe import (
    Abort,
    Close,
    Cut,
    Direction,
    Drained,
    Eof,
    Event,
    Finished,
    Full,
    Lost,
    PauseReading,
    Pipe,
    PipePhase,
    ResumeReading,
    Side,
    WriteEof,
)
from proxy.session import Outcome
from proxy_playbook import Playbook

CLIENT, UPSTREAM = Side.CLIENT, Side.UPSTREAM


def started(**kwargs: bool) -> Pipe:
    pipe = Pipe(**kwargs)
    pipe.start()
    return pipe


# -- starting


def test_start_reads_the_client_once_its_upstream_has_room() -> None:
    assert Pipe().start() == [ResumeReading(CLIENT)]
    # the first frame (and what was pipelined behind it) already filled the upstream's buffer:
    # the client stays paused until it drains
    assert Pipe(upstream_full=True).start() == []
    assert Pipe(client_full=True).start() == [ResumeReading(CLIENT), PauseReading(UPSTREAM)]


def test_upstream_drained_after_a_full_start_resumes_the_client() -> None:
    pipe = Pipe(upstream_full=True)
    assert pipe.start() == []
    assert pipe.direction(CLIENT) is Direction.PAUSED
    assert Playbook(pipe) >> Drained(UPSTREAM) << ResumeReading(CLIENT)
    assert pipe.direction(CLIENT) is Direction.READING


# -- backpressure


def test_a_full_side_pauses_the_other_until_it_drains() -> None:
    pipe = started()
    assert (
        Playbook(pipe)
        >> Full(CLIENT)  # the client does not read: what the cluster sends piles up
        << PauseReading(UPSTREAM)
        >> Full(CLIENT)  # said twice: nothing new
        >> Drained(CLIENT)
        << ResumeReading(UPSTREAM)
        >> Full(UPSTREAM)
        << PauseReading(CLIENT)
        >> Drained(UPSTREAM)
        << ResumeReading(CLIENT)
    )
    assert pipe.phase is PipePhase.OPEN


def test_directions_report_their_state() -> None:
    pipe = started()
    assert (pipe.direction(CLIENT), pipe.direction(UPSTREAM)) == (Direction.READING, Direction.READING)
    pipe.handle(Full(CLIENT))
    assert (pipe.direction(CLIENT), pipe.direction(UPSTREAM)) == (Direction.READING, Direction.PAUSED)
    pipe.handle(Eof(CLIENT))
    assert (pipe.direction(CLIENT), pipe.direction(UPSTREAM)) == (Direction.ENDED, Direction.PAUSED)


# -- half-close


def test_client_eof_passes_a_fin_on_and_the_other_direction_still_flows() -> None:
    pipe = started()
    assert (
        Playbook(pipe)
        >> Eof(CLIENT)
        << WriteEof(UPSTREAM)
        >> Full(CLIENT)  # the answer still flows to the client, with backpressure
        << PauseReading(UPSTREAM)
        >> Drained(CLIENT)
        << ResumeReading(UPSTREAM)
        >> Eof(UPSTREAM)  # and when the cluster is done too, both close
        << Close(UPSTREAM)
        << Close(CLIENT)
        >> Lost(UPSTREAM)
        >> Lost(CLIENT)
        << Finished(Outcome.FORWARDED)
    )
    assert pipe.history == (PipePhase.OPEN, PipePhase.HALF_CLOSED, PipePhase.CLOSING, PipePhase.CLOSED)


def test_upstream_eof_passes_a_fin_to_the_client() -> None:
    assert (
        Playbook(started())
        >> Eof(UPSTREAM)
        << WriteEof(CLIENT)
        >> Eof(UPSTREAM)  # a repeat changes nothing
        >> Full(UPSTREAM)  # nothing more comes from the cluster, but the client still sends
        << PauseReading(CLIENT)
    )


def test_a_paused_direction_that_ended_is_not_resumed() -> None:
    assert (
        Playbook(started())
        >> Full(CLIENT)
        << PauseReading(UPSTREAM)
        >> Eof(UPSTREAM)
        << WriteEof(CLIENT)
        >> Drained(CLIENT)  # the upstream sent its EOF: nothing to resume there
    )


@pytest.mark.parametrize("tls_side", ["client", "upstream"])
def test_a_side_that_cannot_half_close_turns_an_eof_into_a_close(tls_side: str) -> None:
    pipe = started(client_half_close=tls_side != "client", upstream_half_close=tls_side != "upstream")
    # Close, not Abort: the bytes already buffered for each side still go out
    assert Playbook(pipe) >> Eof(CLIENT) << Close(UPSTREAM) << Close(CLIENT)
    assert pipe.phase is PipePhase.CLOSING
    assert Playbook(started(client_half_close=False)) >> Eof(UPSTREAM) << Close(UPSTREAM) << Close(CLIENT)


# -- ending


def test_a_side_lost_cleanly_closes_the_other_and_the_pipe_is_forwarded() -> None:
    pipe = started()
    assert (
        Playbook(pipe)
        >> Lost(UPSTREAM)
        << Close(CLIENT)
        >> Full(CLIENT)  # while closing, reads are nobody's business
        >> Eof(CLIENT)
        >> Lost(CLIENT)
        << Finished(Outcome.FORWARDED)
        >> Lost(CLIENT)  # closed: silent from here on
        >> Cut(Outcome.SHUTDOWN)
    )
    assert pipe.phase is PipePhase.CLOSED


def test_a_side_lost_with_an_error_aborts_the_other_and_says_which_side() -> None:
    assert (
        Playbook(started())
        >> Lost(CLIENT, "Connection reset by peer")
        << Abort(UPSTREAM)
        >> Lost(UPSTREAM, "it went too")  # the first reason is kept
        << Finished(Outcome.ERROR, "client side: Connection reset by peer")
    )
    assert (
        Playbook(started())
        >> Lost(UPSTREAM, "TLS record failure")
        << Abort(CLIENT)
        >> Lost(CLIENT)
        << Finished(Outcome.ERROR, "cluster side: TLS record failure")
    )


def test_a_cut_aborts_both_and_keeps_its_reason_over_the_resets_it_causes() -> None:
    assert (
        Playbook(started())
        >> Cut(Outcome.IDLE_TIMEOUT, "no bytes either way for 900 s")
        << Abort(UPSTREAM)
        << Abort(CLIENT)
        >> Lost(UPSTREAM, "aborted")
        >> Lost(CLIENT, "aborted")
        << Finished(Outcome.IDLE_TIMEOUT, "no bytes either way for 900 s")
    )


def test_the_drain_end_cuts_a_pipe_that_was_already_closing() -> None:
    # a graceful close waits for a slow reader's buffer; the drain deadline still ends it
    assert (
        Playbook(started())
        >> Lost(CLIENT)
        << Close(UPSTREAM)
        >> Cut(Outcome.SHUTDOWN, "still open after the 20 s drain")
        << Abort(UPSTREAM)
        >> Lost(UPSTREAM)
        << Finished(Outcome.SHUTDOWN, "still open after the 20 s drain")
    )


def test_not_an_event() -> None:
    with pytest.raises(TypeError):
        started().handle("bytes")  # type: ignore[arg-type]  # a wrong type at run time is the point


# -- a property: whatever happens, a pipe whose two sides are gone has finished exactly once


_event = st.one_of(
    st.builds(Eof, st.sampled_from(Side)),
    st.builds(Full, st.sampled_from(Side)),
    st.builds(Drained, st.sampled_from(Side)),
    st.builds(Lost, st.sampled_from(Side), st.one_of(st.none(), st.just("reset"))),
    st.builds(Cut, st.sampled_from([Outcome.IDLE_TIMEOUT, Outcome.SHUTDOWN]), st.just("cut")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_event, max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_every_pipe_finishes_exactly_once_when_both_sides_are_gone(
    events: list[Event], client_half: bool, upstream_half: bool
) -> None:
    pipe = started(client_half_close=client_half, upstream_half_close=upstream_half)
    commands = [c for e in events for c in pipe.handle(e)]
    # the shell reports every side it was told to close or abort as lost, and any side may go
    commands += pipe.handle(Lost(CLIENT)) + pipe.handle(Lost(UPSTREAM))
    finished = [c for c in commands if isinstance(c, Finished)]
    assert len(finished) == 1 and commands[-1] is finished[0]  # and nothing after it
    assert pipe.phase is PipePhase.CLOSED
    if not (client_half and upstream_half):  # TLS somewhere: never a FIN passed on
        assert not any(isinstance(c, WriteEof) for c in commands)
