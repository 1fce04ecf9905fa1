"""mlpgrader: the instructor's grader for the book's exercises (not part of mlpcore).

A learner uses mlpcore's library and inline ``check``; this package, installed beside it
(same distribution, never imported by mlpcore), holds what only an instructor needs: the
sandbox (``sandbox``: starts and bounds one run), the child that runs a submission's
code and only computes (``child``), the job and reply formats both sides share
(``wire``), grading one exercise cell: send it, judge the answer outside the sandbox
(``grade_cell``), the defensive notebook reader (``notebook``), the class runner,
report, shards and merge (``grader``), the grading options shared by both entry points
(``options``), the nbgrader metadata stamp (``nbgrader_meta``) and kernel
(``nbgrader_kernel``), the exports (``export``), the similarity report (``similar``) and
the subcommands beyond grading (``cli``). Entry points: ``python -m pytest grading
--submissions PATH`` and the ``mlpgrader`` command (= ``python -m mlpgrader``) with grade,
merge, stamp, student, export, similar, kernel, cost; see docs/grading.md.
"""
