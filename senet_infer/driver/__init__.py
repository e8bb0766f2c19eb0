"""``run_infer.sh``'s driver: the work folder's paths (``paths``), the options, the engine that runs a table of
steps (``engine``), the steps themselves (``steps``: ``resolve``, ``actions``, ``perf``; the state they share in
``state``), the two toolchains (``toolchain``), what is asked of an Ascend host (``ascend_host``), the perf step's
``perf.json``/``perf.md``/``perf.png`` (``perf_outputs``) and the hold on the work folder (``workdir``). ``main``
puts them together."""
