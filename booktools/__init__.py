"""The book's build tools: one package, one command (``python -m booktools``).

Run from the checkout's root. The commands (``python -m booktools --help`` lists them;
``booktools/__main__.py`` maps each to its module's ``main(argv)``):

- ``execute``: run chapters in place so their stored outputs are current
  (``execute_notebooks``);
- ``replicate run|report|page``: re-run chapters on other seeds and check every claim;
  the robustness appendix's data and page (``replicate``);
- ``student-edition``: the student edition (and nbgrader's source) from the notebook
  edition (``make_student_edition``);
- ``install-cell``: print, check or write every chapter's install cell (``install_cell``);
- ``grading-throughput``: time the grader on two synthetic classes
  (``grading_throughput``).

The Sphinx extensions, loaded by _config.yml as ``booktools.<module>``:
``book_html_fixes`` (upstream glitches that break the browser and accessibility tests),
``notebook_edition`` (the Jupyter/Colab edition, with ``myst_to_markdown``),
``api_reference`` (book/api.md) and ``chapter_list`` (the intro's list of chapters).

The Chinese edition (locale/README.md, docs/translation.md): ``python -m booktools.i18n
extract|check|apply|build`` (``i18n``, ``i18n_messages``, ``i18n_build``), and the Sphinx
extension ``i18n_sphinx`` (the language switch of both books).

booktools is not part of the mlpcore distribution (pyproject.toml ships mlpcore and
mlpgrader only): it needs the checkout, and the book's toolchain from requirements.txt.
"""
