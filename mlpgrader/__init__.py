"""mlpgrader: the instructor's grader for the book's exercises (not part of mlpcore).

A learner's ``pip install`` of mlpcore gets the library and the inline ``check``; this
package, beside it in the repository, holds what only an instructor needs: the
sandbox (``sandbox``), the child that runs a submission's code and only computes
(``child``, ``wire``), the judging outside it (``judge``), the defensive notebook
reader (``notebook``), the class runner, report, shards and merge (``grader``), and the
nbgrader metadata stamp (``nbgrader_meta``). Entry points: ``python -m pytest grading
--submissions PATH`` and ``python -m mlpgrader {grade,merge,stamp}``; see
docs/grading.md.
"""
