"""The exercise cells of chapter 0, ready to splice into book/00_mlp_in_numpy.ipynb.

CELLS is a list of {"cell_type", "source", "tags"} in notebook order: an intro, then
for each exercise a markdown statement, the exercise cell (tags exercise + hide-input:
the HTML book shows the solution only behind a toggle) and its check cell (tag
exercise-check). The chapter's import cell must contain
`from mlpcore.exercises import check`.

Splice with nbformat, e.g.:
    cell = (nbformat.v4.new_markdown_cell if c["cell_type"] == "markdown"
            else nbformat.v4.new_code_cell)(c["source"])
    cell.metadata["tags"] = list(c["tags"])
The tests build a stand-in chapter from these cells while the book notebook does not
contain them yet (tests/test_grading.py: chapter0_notebook).
"""

INTRO = """\
## Exercises

Three graded exercises, each checked by the cell right below it, and one open-ended
one at the end. Write your code in the exercise cell between the `### BEGIN SOLUTION`
and `### END SOLUTION` lines (in the student edition: replace the line
`raise NotImplementedError(...)`), run that cell, then run the check: it prints one
line per test case, ✓ or ✗ with what was expected, what came and a hint. An exercise
you have not attempted yet only says so; the rest of the notebook uses `mlpcore`'s
own code, so it runs either way. In the HTML book each reference solution is hidden
behind a toggle: try before you look.

Each exercise cell must be **self-contained**: only `import numpy as np` is assumed,
because the grader runs each exercise cell on its own, with the same tests."""

LINEAR_MD = """\
### Exercise 0.1: the backward pass of `Linear`

A linear layer computes $y = xW + b$ with $x$ of shape $(N, \\text{in})$ and the
weight stored as $(\\text{in}, \\text{out})$. Given `grad_out` $= \\partial L / \\partial y$,
of shape $(N, \\text{out})$, return the three gradients
$\\partial L/\\partial x$, $\\partial L/\\partial W$ and $\\partial L/\\partial b$.

Tip: every gradient has the shape of the thing it is the gradient of; let the shapes
tell you which matrix to transpose and which axis to sum over."""

LINEAR_CODE = '''\
def linear_backward(x, weight, grad_out):
    """Backward pass of the affine map y = x @ weight + b.

    x (N, in), weight (in, out), grad_out = dL/dy (N, out).
    Returns (grad_x, grad_weight, grad_bias) with shapes (N, in), (in, out), (out,).
    Does not modify its inputs. Self-contained: only `import numpy as np` is assumed.
    """
    ### BEGIN SOLUTION
    grad_x = grad_out @ weight.T       # (N, out) @ (out, in)
    grad_weight = x.T @ grad_out       # (in, N) @ (N, out): a sum over the batch
    grad_bias = grad_out.sum(axis=0)   # the bias is shared by all N examples
    return grad_x, grad_weight, grad_bias
    ### END SOLUTION'''

SOFTMAX_MD = """\
### Exercise 0.2: the gradient of softmax cross-entropy

For logits $z$ of shape $(N, C)$ and integer targets $t$ of shape $(N,)$, the mean
cross-entropy is $L = -\\frac{1}{N}\\sum_{n} \\log \\operatorname{softmax}(z_n)_{t_n}$.
Return $\\partial L / \\partial z$, of shape $(N, C)$.

It must stay finite for logits around 1000, where `np.exp` overflows: softmax does
not change when you subtract the same number from every logit of a row."""

SOFTMAX_CODE = '''\
def softmax_cross_entropy_grad(logits, targets):
    """Gradient of the mean cross-entropy over the batch with respect to the logits.

    logits (N, C) floats, targets (N,) integer class indices in [0, C).
    Returns grad_logits = dL/dlogits, shape (N, C); finite even for logits ~1000.
    Does not modify its inputs. Self-contained: only `import numpy as np` is assumed.
    """
    ### BEGIN SOLUTION
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)   # same softmax, no overflow
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(n), targets] -= 1.0                    # softmax minus one-hot
    return probs / n                                       # the loss is a mean over N
    ### END SOLUTION'''

SGD_MD = """\
### Exercise 0.3: one step of SGD with momentum

PyTorch's SGD keeps a momentum buffer per parameter. On the first step the buffer is
the gradient itself; afterwards it is $\\text{buf} \\leftarrow \\mu\\,\\text{buf} + g$
(no $(1-\\mu)$ factor), and the step is $\\theta \\leftarrow \\theta - \\eta\\,\\text{buf}$.
Write that step as a pure function: it returns the new parameter and the new buffer
as new arrays and leaves its inputs unchanged (`mlpcore.optim.SGD` does the same
update in place, on `p.data`)."""

SGD_CODE = '''\
def sgd_momentum_step(param, grad, buf, lr, momentum):
    """One step of SGD with momentum, PyTorch's convention (dampening 0, no Nesterov).

        buf = grad                     on the first step (buf is None)
        buf = momentum * buf + grad    on every later step
        param = param - lr * buf

    param, grad (and buf, unless None): arrays of one shape; lr, momentum: floats.
    Returns (new_param, new_buf) as new arrays; param, grad and buf stay unchanged.
    Self-contained: only `import numpy as np` is assumed.
    """
    ### BEGIN SOLUTION
    if buf is None:
        new_buf = grad.copy()
    else:
        new_buf = momentum * buf + grad
    new_param = param - lr * new_buf
    return new_param, new_buf
    ### END SOLUTION'''

EXERCISE_TAGS = ["exercise", "hide-input"]
CHECK_TAGS = ["exercise-check"]

CELLS = [
    {"cell_type": "markdown", "source": INTRO, "tags": []},
    {"cell_type": "markdown", "source": LINEAR_MD, "tags": []},
    {"cell_type": "code", "source": LINEAR_CODE, "tags": EXERCISE_TAGS},
    {"cell_type": "code", "source": 'check("ch00.linear_backward", linear_backward)',
     "tags": CHECK_TAGS},
    {"cell_type": "markdown", "source": SOFTMAX_MD, "tags": []},
    {"cell_type": "code", "source": SOFTMAX_CODE, "tags": EXERCISE_TAGS},
    {"cell_type": "code",
     "source": 'check("ch00.softmax_cross_entropy_grad", softmax_cross_entropy_grad)',
     "tags": CHECK_TAGS},
    {"cell_type": "markdown", "source": SGD_MD, "tags": []},
    {"cell_type": "code", "source": SGD_CODE, "tags": EXERCISE_TAGS},
    {"cell_type": "code", "source": 'check("ch00.sgd_momentum_step", sgd_momentum_step)',
     "tags": CHECK_TAGS},
]
