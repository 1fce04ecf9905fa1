"""mlpgrader: the instructor's grader for the book's exercises (not part of mlpcore).

A learner's ``pip install`` of mlpcore gets the library and the inline ``check``; this
package, beside it in the repository, holds what only an instructor needs: the
sandbox (``sandbox``: starts and bounds one run), the child that runs a submission's
code and only computes (``child``), the job and reply formats both sides share
(``wire``), grading one exercise cell: send it, judge the answer outside the sandbox
(``grade_cell``), the defensive notebook reader (``notebook``), the class runner,
report, shards and merge (``grader``), the grading options shared by both entry points
(``options``), and the nbgrader metadata stamp (``nbgrader_meta``). Entry points:
``python -m pytest grading --submissions PATH`` and ``python -m mlpgrader
{grade,merge,stamp,cost}``; see docs/grading.md.
"""
