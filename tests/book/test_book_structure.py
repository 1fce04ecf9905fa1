"""The book's structure, checked without building it: figure alt text, the glossary,
the bibliography, and the table of contents.

Alt text for a figure a code cell draws lives in the cell's metadata, where myst-nb
reads it (`"mystnb": {"image": {"alt": "..."}}`); a glued figure gets it from the
`{glue:figure}` directive's `:alt:` option. tests/book/test_browser.py checks the built
pages as well; this catches a missing alt before the build.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests._support import toc_pages

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
MIN_ALT_WORDS = 4


def shown_image_outputs(cell) -> int:
    """How many images of this cell the book shows (glue outputs are shown where pasted)."""
    tags = set(cell.metadata.get("tags", []))
    if tags & {"remove-cell", "remove-output"}:
        return 0
    return sum(1 for output in cell.get("outputs", [])
               if output.get("output_type") in ("display_data", "execute_result")
               and any(kind in output.get("data", {}) for kind in IMAGE_TYPES)
               and "scrapbook" not in output.get("metadata", {}))


def alt_problem(alt) -> str | None:
    if not isinstance(alt, str) or not alt.strip():
        return "no alt text"
    if len(alt.split()) < MIN_ALT_WORDS:
        return f"alt text {alt!r} is too short to say what the figure shows"
    if re.search(r"\.(png|jpe?g|svg)$", alt.strip(), re.IGNORECASE):
        return f"alt text {alt!r} is a file name"
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and shown_image_outputs(cell):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
            if problem := alt_problem(alt):
                problems.append(f"cell {index} ({cell.source.splitlines()[0][:50]!r}...): {problem}")
        if cell.cell_type == "markdown":
            for block in re.findall(r"[`:]{3,}\{glue:figure\}[^\n]*\n(.*?)[`:]{3,}",
                                    cell.source, re.DOTALL):
                match = re.search(r"^:alt:\s*(.+)$", block, re.MULTILINE)
                if problem := alt_problem(match.group(1) if match else None):
                    problems.append(f"cell {index}: glue:figure: {problem}")
    assert not problems, (
        f"{path.name}: figures without a useful alt text. Put it in the cell metadata as "
        '"mystnb": {"image": {"alt": "What the figure shows"}} (or :alt: on glue:figure):\n  '
        + "\n  ".join(problems))


def test_alt_text_check_can_fail():
    cell = nbformat.v4.new_code_cell("plt.show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    assert shown_image_outputs(cell) == 1
    assert alt_problem(None) and alt_problem("plot") and alt_problem("../_images/ab12.png")
    assert alt_problem("Training loss falls for every learning rate.") is None


# ---------------------------------------------------------------- glossary

REQUIRED_TERMS = [
    ("overfitting", "过拟合"), ("generalisation", "泛化"), ("regularisation", "正则化"),
    ("weight decay", "权重衰减"), ("L2 regularisation", "L2 正则化"),
    ("dropout", "暂退法"), ("dropout", "丢弃法"), ("inverted dropout", None),
    ("keep probability", "保留概率"), ("co-adaptation", "共适应"),
    ("vanishing gradient", "梯度消失"), ("exploding gradient", "梯度爆炸"),
    ("saturation", "饱和"), ("activation function", "激活函数"), ("sigmoid", None),
    ("tanh", None), ("ReLU", "修正线性单元"), ("Leaky ReLU", None), ("ELU", None),
    ("dying ReLU", None), ("Xavier initialisation", None), ("Glorot initialisation", None),
    ("He initialisation", None), ("Kaiming initialisation", None),
    ("batch normalisation", "批量归一化"), ("residual connection", "残差连接"),
    ("gradient clipping", "梯度裁剪"), ("learning rate", "学习率"),
    ("backpropagation", "反向传播"), ("gradient check", "梯度检验"),
    ("minibatch", "小批量"), ("epoch", "轮次"), ("loss function", "损失函数"),
    ("cross-entropy", "交叉熵"), ("softmax", None),
    # Terms chapter 0 uses, and the other names readers meet them by (issue 9).
    ("multilayer perceptron", "多层感知机"), ("hidden layer", "隐藏层"),
    ("forward pass", "前向传播"), ("computational graph", "计算图"), ("momentum", "动量"),
    ("stochastic gradient descent", "随机梯度下降"), ("one-hot encoding", "独热编码"),
    ("logit", None), ("training set", "训练集"), ("validation set", "验证集"),
    ("test set", "测试集"), ("affine map", "仿射变换"), ("central difference", "中心差分"),
    ("early stopping", "早停"), ("numerical stability", "数值稳定性"),
    ("gradient check", "梯度检查"), ("ReLU", "整流线性单元"), ("gradient clipping", "梯度截断"),
    # The notes' own words for the penalty and its strength, and the statistics (issue 20).
    ("penalty term", "惩罚项"), ("regularisation coefficient", "正则化系数"),
    ("hyperparameter", "超参数"), ("shrinkage", "收缩"), ("standard error", "标准误"),
]


def glossary_entries() -> dict[str, list[str]]:
    """Each glossary entry as {first term: all its terms}, from book/glossary.md."""
    text = (BOOK / "glossary.md").read_text(encoding="utf-8")
    match = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.DOTALL)
    assert match, "book/glossary.md has no {glossary} directive"
    entries: dict[str, list[str]] = {}
    terms: list[str] = []
    for line in match.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            terms = []
        elif line.startswith((" ", "\t")):
            if terms:
                entries[terms[0]] = terms
                entries[terms[0] + "\0definition"] = [line.strip()]
            terms = []
        else:
            terms.append(line.strip())
    return entries


def test_glossary_has_every_term_in_english_and_chinese():
    entries = {k: v for k, v in glossary_entries().items() if "\0" not in k}
    all_terms = {term for terms in entries.values() for term in terms}
    missing = [f"{en} / {zh}" if zh else en for en, zh in REQUIRED_TERMS
               if en not in all_terms or (zh and zh not in all_terms)]
    assert not missing, f"book/glossary.md lacks: {missing}"
    # Every entry names at least one Chinese term next to the English one.
    without_chinese = [first for first, terms in entries.items()
                       if not any(re.search(r"[\u4e00-\u9fff]", term) for term in terms)]
    assert not without_chinese, f"glossary entries without a Chinese term: {without_chinese}"


def test_glossary_definitions_name_their_chapter():
    definitions = {k.split("\0")[0]: v[0] for k, v in glossary_entries().items() if "\0" in k}
    assert definitions, "no glossary definitions found"
    unplaced = [term for term, text in definitions.items() if "Chapter" not in text]
    assert not unplaced, f"glossary definitions that do not say which chapter teaches them: {unplaced}"


# ---------------------------------------------------------------- bibliography

REQUIRED_REFERENCES = {
    # key: words its venue (journal, booktitle, howpublished or publisher) must contain, and year
    "srivastava2014dropout": ("Journal of Machine Learning Research", "2014"),
    "hinton2012improving": ("1207.0580", "2012"),
    "krogh1992simple": ("Neural Information Processing Systems", "1992"),
    "loshchilov2019decoupled": ("ICLR", "2019"),
    "glorot2010understanding": ("AISTATS", "2010"),
    "he2015delving": ("ICCV", "2015"),
    "ioffe2015batch": ("ICML", "2015"),
    "he2016deep": ("CVPR", "2016"),
    "pascanu2013difficulty": ("ICML", "2013"),
    "hochreiter1991untersuchungen": ("München", "1991"),
    "bengio1994learning": ("IEEE Transactions on Neural Networks", "1994"),
    "maas2013rectifier": ("ICML", "2013"),
    "clevert2016fast": ("ICLR", "2016"),
    "gal2016dropout": ("ICML", "2016"),
    "kingma2015adam": ("ICLR", "2015"),
    "alpaydin1998optdigits": ("UCI Machine Learning Repository", "1998"),
    "zhang2023dive": ("Cambridge University Press", "2023"),
    "prince2023understanding": ("MIT Press", "2023"),
    "ba2016layer": ("1607.06450", "2016"),
}


def _latex_to_text(text: str) -> str:
    return (text.replace('{\\"u}', "ü").replace('{\\"a}', "ä").replace("{", "").replace("}", ""))


def test_bibliography_entries():
    from pybtex.database import parse_file

    entries = parse_file(str(BOOK / "references.bib")).entries
    problems = []
    for key, (venue, year) in REQUIRED_REFERENCES.items():
        if key not in entries:
            problems.append(f"{key}: missing")
            continue
        fields = entries[key].fields
        where = " ".join(_latex_to_text(fields.get(name, "")) for name in
                         ("journal", "booktitle", "howpublished", "publisher", "school"))
        if venue not in where:
            problems.append(f"{key}: venue should mention {venue!r}, is {where.strip()!r}")
        if fields.get("year") != year:
            problems.append(f"{key}: year should be {year}, is {fields.get('year')}")
        if not fields.get("title"):
            problems.append(f"{key}: no title")
    assert not problems, "book/references.bib:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- table of contents

BACK_MATTER = ["book/robustness", "book/glossary", "book/references", "book/api"]


def test_every_chapter_is_in_the_toc_and_back_matter_is_last():
    files = toc_pages()[1:]  # the chapters and back matter, without the root
    missing = [f"book/{p.stem}" for p in NOTEBOOKS if f"book/{p.stem}" not in files]
    assert not missing, f"notebooks not in _toc.yml (they would not be built): {missing}"
    assert files[-len(BACK_MATTER):] == BACK_MATTER, \
        f"the last entries of _toc.yml must be the back matter {BACK_MATTER}, got {files}"


def test_one_title_everywhere():
    import yaml

    title = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["title"]
    headings = {name: path.read_text(encoding="utf-8").splitlines()[0]
                for name, path in (("README.md", ROOT / "README.md"),
                                   ("book/intro.md", BOOK / "intro.md"))}
    wrong = {name: heading for name, heading in headings.items() if heading != f"# {title}"}
    assert not wrong, f"the book's title is {title!r} (_config.yml); first lines differ: {wrong}"


# ---------------------------------------------------------------- the intro

def test_intro_lists_the_chapters_that_exist_and_those_in_preparation():
    """booktools/chapter_list.py: a planned chapter in _toc.yml is a link, the rest say
    "(in preparation)"; the strict build fails on a chapter the list lacks."""
    import html as html_lib

    from tests._support import built_book

    source = (BOOK / "intro.md").read_text(encoding="utf-8")
    planned = re.search(r"```\{chapter-list\}\n(.*?)\n```", source, re.DOTALL)
    assert planned, "book/intro.md has no {chapter-list}"
    page = html_lib.unescape((built_book()[0] / "book" / "intro.html").read_text(encoding="utf-8"))
    in_toc = set(toc_pages())
    for line in planned.group(1).splitlines():
        stem, title, _ = (part.strip() for part in line.split("|", 2))
        if f"book/{stem}" in in_toc:
            assert f'href="{stem}.html"' in page, f"the intro should link the chapter {stem}"
            assert f"{title}</em> (in preparation)" not in page
        else:
            assert f"{title}</em> (in preparation)" in page, \
                f"the intro should say that {title!r} is in preparation"
