"""Offline transcription speed: real-time factor and peak memory of the bundled Whisper base model on this
machine's cores, int8 (the default) against float32, each in a fresh process, on one spoken pt-BR clip.

    .venv/bin/python bench/transcribe.py [--seconds 120]

Needs espeak-ng and ffmpeg (the clip is synthesized, like the sample lesson).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO / "scripts"))
from make_sample_materials import LESSON, write_lesson_video  # noqa: E402


def measure(clip: str, compute_type: str) -> None:
    """Child side: load, transcribe, print seconds and peak RSS as JSON."""
    from core.settings import Settings
    from loaders.transcription import transcribe_locally

    settings = Settings(data_dir=Path(tempfile.mkdtemp()), transcription_compute_type=compute_type)
    started = time.perf_counter()
    cues = transcribe_locally(Path(clip), settings)
    print(json.dumps({"seconds": time.perf_counter() - started, "segments": len(cues),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120, help="about how long the clip is")
    parser.add_argument("--measure", nargs=2, metavar=("CLIP", "COMPUTE_TYPE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        measure(*arguments.measure)
        return
    with tempfile.TemporaryDirectory() as folder:
        single = Path(folder) / "one.mp4"
        write_lesson_video(single)
        probe = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
        once = float(subprocess.run([*probe, str(single)], capture_output=True, text=True, check=True).stdout)
        repeats = max(1, round(arguments.seconds / once))
        (Path(folder) / "list.txt").write_text("".join(f"file '{single}'\n" for _ in range(repeats)))
        clip = Path(folder) / "clip.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                        str(Path(folder) / "list.txt"), "-c", "copy", str(clip)], check=True)
        duration = once * repeats
        print(f"clip: {duration:.0f} s of synthesized pt-BR speech ({len(LESSON.split())} words x {repeats})")
        results = {}
        for compute_type in ("int8", "float32"):
            output = subprocess.run([sys.executable, __file__, "--measure", str(clip), compute_type],
                                    capture_output=True, text=True, check=True, cwd=REPO).stdout
            results[compute_type] = json.loads(output.strip().splitlines()[-1])
            result = results[compute_type]
            print(f"{compute_type:>8}: {result['seconds']:.1f} s, real-time factor {result['seconds'] / duration:.3f}, "
                  f"peak RSS {result['peak_mb']:.0f} MB, {result['segments']} segments")
        print(f"int8 / float32 time: {results['int8']['seconds'] / results['float32']['seconds']:.2f}; "
              f"memory: {results['int8']['peak_mb'] / results['float32']['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
