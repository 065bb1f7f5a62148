"""The literal reader for nsfwjs' minified bundles: accepts the subset they use, never runs code."""

from __future__ import annotations

import pytest

from contentguard.models.convert.jsliteral import JsLiteralError, exported_literal

UMD = '!function(e){module.exports=e()}(function(){return {1:[function(e,a,n){a.exports=%s},{}]}});'


def test_reads_the_js_shorthand_of_minified_bundles() -> None:
    body = '{a:!0,b:!1,"c d":null,e:[1,-2,.5,1e-3,-0,3.25E2],f:{g:"x\\"y\\u00e9\\n"},h:void 0}'
    value = exported_literal(UMD % body)
    assert value == {
        "a": True, "b": False, "c d": None, "e": [1, -2, 0.5, 0.001, 0, 325.0],
        "f": {"g": 'x"yé\n'}, "h": None,
    }


def test_reads_a_base64_shard_string() -> None:
    assert exported_literal(UMD % '"QUJD+/=="') == "QUJD+/=="


def test_skips_the_umd_header_assignment() -> None:
    # `module.exports=e()` comes first and is not a literal: it must not be parsed.
    assert exported_literal(UMD % "[1]") == [1]


@pytest.mark.parametrize(
    "body",
    ["{a:alert(1)}", "{a:1;}", '{a:"unterminated}', "{a 1}", "[1 2]", "{a:function(){}}"],
)
def test_refuses_anything_but_literals(body: str) -> None:
    with pytest.raises(JsLiteralError):
        exported_literal(UMD % body)


def test_no_exports_assignment() -> None:
    with pytest.raises(JsLiteralError, match="no `exports=`"):
        exported_literal("var x = 1;")
