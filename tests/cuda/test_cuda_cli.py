"""``graphc compile``: PTX, kernel source, IR and LLVM IR from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from graphc.backends.cuda.render import render  # noqa: E402
from graphc.cli import main  # noqa: E402
from graphc.commands.compile import parse_cc  # noqa: E402
from _cuda_helpers import REQUIRE_TOOLS, ROOT, has_module, ptxas_path  # noqa: E402

EXPR = "ln(x1) + x1*x2 - sin(x2)"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_emit_source_is_the_rendered_value_and_grad_kernel(capsys):
    status, out, _ = run(capsys, "compile", EXPR, "--grad", "--target", "cuda",
                         "--emit", "source")
    assert status == 0
    assert out == render(gc.optimize(gc.value_and_grad(gc.parse(EXPR)))).text
    assert "out2[i]" in out  # value and both partials


def test_hessian_and_wrt(capsys):
    status, out, _ = run(capsys, "compile", EXPR, "--hessian", "--target", "cuda",
                         "--emit", "source")
    assert status == 0 and "out3[i]" in out and "out4" not in out   # 2x2 Hessian
    status, out, _ = run(capsys, "compile", EXPR, "--grad", "--wrt", "x2", "--target",
                         "cuda", "--emit", "source")
    assert status == 0 and "out1[i]" in out and "out2" not in out


def test_emit_ir_and_output_file(capsys, tmp_path):
    target = tmp_path / "k.txt"
    status, out, _ = run(capsys, "compile", EXPR, "--target", "cuda", "--emit", "ir",
                         "-o", str(target))
    assert status == 0 and out == ""
    assert target.read_text() == gc.to_text(gc.optimize(gc.parse(EXPR))).rstrip("\n") + "\n"


def test_llvm_target_emits_llvm_ir(capsys):
    status, out, err = run(capsys, "compile", EXPR, "--grad", "--target", "llvm",
                           "--emit", "llvm")
    assert status == 0, err
    assert "define " in out


def test_bad_combinations_exit_2(capsys):
    status, _, err = run(capsys, "compile", EXPR, "--target", "llvm", "--emit", "ptx")
    assert status == 2 and "emits llvm, ir" in err
    status, _, err = run(capsys, "compile", EXPR, "--target", "cuda", "--emit", "llvm")
    assert status == 2
    status, _, err = run(capsys, "compile", EXPR, "--target", "cuda", "--cc", "nine")
    assert status == 2 and "compute capability" in err
    status, _, err = run(capsys, "compile", EXPR, "--wrt", "x1", "--target", "cuda")
    assert status == 2 and "--grad" in err


@pytest.mark.parametrize("text, cc", [("9.0", (9, 0)), ("90", (9, 0)), ("sm_86", (8, 6)),
                                      ("compute_80", (8, 0)), ("7", (7, 0)),
                                      ("10.0", (10, 0)), ("sm_120", (12, 0))])
def test_parse_cc(text, cc):
    assert parse_cc(text) == cc


def _ptx_toolchain():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not has_module("numba.cuda"):
        if REQUIRE_TOOLS:
            pytest.fail("numba-cuda missing (GRAPHC_CUDA_TOOLCHAIN=required)")
        pytest.skip("needs numba-cuda outside the simulator")


def test_emit_ptx_without_a_gpu(capsys, tmp_path):
    _ptx_toolchain()
    status, out, err = run(capsys, "compile", EXPR, "--grad", "--target", "cuda",
                           "--emit", "ptx")
    assert status == 0, err
    assert ".target sm_90" in out and ".visible .entry" in out
    status, out86, err = run(capsys, "compile", EXPR, "--target", "cuda", "--cc", "8.6")
    assert status == 0 and ".target sm_86" in out86
    ptxas = ptxas_path()
    if ptxas is None:
        if REQUIRE_TOOLS:
            pytest.fail("ptxas missing (GRAPHC_CUDA_TOOLCHAIN=required)")
        return
    (tmp_path / "k.ptx").write_text(out)
    r = subprocess.run([ptxas, "-arch=sm_90", str(tmp_path / "k.ptx"), "-o",
                        str(tmp_path / "k.cubin")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_cli_without_numba():
    """Kernel source needs no Numba; PTX then fails with the install hint (exit 2)."""
    code = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("numba is hidden for this test")
sys.meta_path.insert(0, Block())
from graphc.cli import main
assert main(["compile", "sin(x)", "--target", "cuda", "--emit", "source"]) == 0
sys.exit(main(["compile", "sin(x)", "--target", "cuda", "--emit", "ptx"]))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "math.sin(t1)" in r.stdout
    assert "pip install 'graphc[cuda]'" in r.stderr
