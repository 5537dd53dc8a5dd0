"""The robot's view of the pupil's camera: reads every frame, keeps none, says when it is live."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError

from telepresence.agent.media import PupilCameraView


class FakeTrack:
    """A remote video track: frames when the test puts them, then the end."""

    kind = "video"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)

    async def recv(self) -> object:
        frame = await self.queue.get()
        if frame is None:
            raise MediaStreamError
        return frame


async def test_live_at_the_first_frame_off_when_frames_stop_and_nothing_queues() -> None:
    changes: list[tuple[bool, int]] = []
    view = PupilCameraView(lambda live, frames: changes.append((live, frames)), idle_s=0.1)
    track = FakeTrack()
    view.addTrack(track)  # type: ignore[arg-type]
    await view.start()
    await asyncio.sleep(0.15)
    assert changes == []  # a sendrecv transceiver with no camera yet: not live
    for n in range(5):
        await track.queue.put(n)
    await asyncio.sleep(0.02)
    assert changes == [(True, 1)]
    assert track.queue.qsize() == 0  # every frame was read at once
    await asyncio.sleep(0.2)  # the pupil turned the camera off
    assert changes == [(True, 1), (False, 5)]
    await track.queue.put("again")
    await asyncio.sleep(0.02)
    assert changes[-1] == (True, 6)
    await view.stop()
    await view.stop()  # safe twice
    assert changes[-1] == (False, 6)
    assert len(changes) == 4


async def test_the_end_of_the_track_turns_the_indicator_off() -> None:
    changes: list[tuple[bool, int]] = []
    view = PupilCameraView(lambda live, frames: changes.append((live, frames)), idle_s=5)
    track = FakeTrack()
    view.addTrack(track)  # type: ignore[arg-type]
    await view.start()
    await track.queue.put("frame")
    await track.queue.put(None)
    await asyncio.sleep(0.05)
    assert changes == [(True, 1), (False, 1)]
    await view.stop()
    assert len(changes) == 2
