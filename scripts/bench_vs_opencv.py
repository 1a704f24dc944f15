"""Helper of scripts/bench-vs-opencv: times the OpenCV pipeline, and prints the table.

  run memory|files THREADS DIR SIZE   one measurement, JSON on stdout (own process, so
                                      that its peak RSS is its own)
  table DIR                           the comparison table from DIR's JSON files
"""
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

THRESHOLD, MIN_AREA, MAX_AREA, REPEATS = 40, 20, 2000, 5


def pipeline(cv2, np, a, b):
    d = cv2.absdiff(a, b)
    _, m = cv2.threshold(d, THRESHOLD, 255, cv2.THRESH_BINARY)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _labels, stats, _centroids = cv2.connectedComponentsWithStats(m, connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA]
    return int(((area >= MIN_AREA) & (area <= MAX_AREA)).sum())


def run(mode, threads, d, size):
    if mode == "files" and threads > 1:
        os.environ["GDAL_NUM_THREADS"] = str(threads)
    import cv2
    import numpy as np

    cv2.setNumThreads(threads)
    if mode == "memory":
        a = np.fromfile(os.path.join(d, "before.u8"), np.uint8).reshape(size, size)
        b = np.fromfile(os.path.join(d, "after.u8"), np.uint8).reshape(size, size)
        step = lambda: pipeline(cv2, np, a, b)  # noqa: E731
    else:
        import rasterio

        def read(name):
            with rasterio.open(os.path.join(d, name)) as src:
                return src.read(1)

        def step():
            if threads > 1:
                with ThreadPoolExecutor(2) as ex:
                    a, b = ex.map(read, ["before.tif", "after.tif"])
            else:
                a, b = read("before.tif"), read("after.tif")
            return pipeline(cv2, np, a, b)

    best, blobs = float("inf"), None
    for _ in range(REPEATS):
        t = time.perf_counter()
        blobs = step()
        best = min(best, time.perf_counter() - t)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"seconds": best, "mpx_per_s": size * size / best / 1e6, "blobs": blobs,
               "peak_rss_mib": peak_mib, "opencv": cv2.__version__}, sys.stdout)


def table(d):
    sw = json.load(open(os.path.join(d, "stagewatch.json")))
    cv = {(m, t): json.load(open(os.path.join(d, f"opencv-{m}-{t}.json")))
          for m in ("memory", "files") for t in (1, 2)}
    size = sw["size"]
    for (m, t), r in cv.items():
        if r["blobs"] != sw["memory_1"]["result"]["blobs"]:
            sys.exit(f"blob counts differ: OpenCV {m}/{t} {r['blobs']}, "
                     f"stagewatch {sw['memory_1']['result']['blobs']}")
    f = lambda x: f"{x:,.0f}"  # noqa: E731
    rows = []
    for t in (1, 2):
        s, o = sw[f"memory_{t}"]["mpx_per_s"], cv[("memory", t)]["mpx_per_s"]
        rows.append((f"in memory: pair to vehicle list, {t} thread(s)", f(o), f(s), f"{s / o:.1f}x"))
    for t in (1, 2):
        s, o = sw["deflate"][f"stream_{t}"]["mpx_per_s"], cv[("files", t)]["mpx_per_s"]
        rows.append((f"DEFLATE GeoTIFFs end to end (rasterio + OpenCV), {t} thread(s)", f(o), f(s), f"{s / o:.1f}x"))
    for t in (1, 2):
        s, c = sw["deflate"][f"stream_{t}"]["mpx_per_s"], sw["deflate"][f"inflate_only_{t}"]["mpx_per_s"]
        rows.append((f"DEFLATE: inflate-only ceiling (libdeflate), {t} thread(s)", "", f(c), f"{s / c:.0%} of ceiling"))
    for t in (1, 2):
        s = sw["uncompressed"][f"stream_{t}"]["mpx_per_s"]
        rows.append((f"uncompressed GeoTIFFs end to end, {t} thread(s)", "", f(s), ""))
    for t in (1, 2):
        s = sw[f"read_ceiling_{t}"]["mpx_per_s"]
        rows.append((f"memory-read ceiling (both inputs read once), {t} thread(s)", "", f(s), ""))
    print(f"Pair {size}x{size} Byte, {sw['vehicles']} vehicles, {sw['memory_1']['result']['blobs']} blobs "
          f"found by both; OpenCV {cv[('memory', 1)]['opencv']}; best of {REPEATS}; Mpx/s counts pixel positions of the pair.\n")
    print("| measurement | OpenCV Mpx/s | stagewatch Mpx/s | ratio |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    sc = lambda k: sw[k + "_2"]["mpx_per_s"] / sw[k + "_1"]["mpx_per_s"]  # noqa: E731
    print(f"\nScaling 2 threads / 1 thread: stagewatch in memory {sc('memory'):.2f}x, "
          f"from DEFLATE {sw['deflate']['stream_2']['mpx_per_s'] / sw['deflate']['stream_1']['mpx_per_s']:.2f}x; "
          f"OpenCV in memory {cv[('memory', 2)]['mpx_per_s'] / cv[('memory', 1)]['mpx_per_s']:.2f}x.")
    print(f"Peak memory: stagewatch adds {sw['memory_2']['peak_added_mib']:.0f} MiB beyond the two input rasters "
          f"in memory, {sw['deflate']['stream_2']['peak_added_mib']:.0f} MiB streaming from DEFLATE files "
          f"(2 threads); rasterio + OpenCV process peak {cv[('files', 2)]['peak_rss_mib']:.0f} MiB, "
          f"OpenCV in memory {cv[('memory', 2)]['peak_rss_mib']:.0f} MiB (inputs included).")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        table(sys.argv[2])
