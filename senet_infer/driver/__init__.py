"""``run_infer.sh``'s driver: the work folder's names (``layout``), the options, the engine that runs a table of
steps (``engine``), the steps themselves (``steps``: ``resolve``, ``actions``, ``perf``; the state they share in
``state``), the two toolchains (``toolchain``), what is asked of an Ascend host (``ascend_host``), the perf table
(``perf_report``) and the hold on the work folder (``workdir``). ``senet_infer/pipeline.py`` puts them together."""
