"""Stored-XSS payloads and a vault that puts each one into every field the app renders."""

from __future__ import annotations

import json
from pathlib import Path

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "<svg><script>alert(4)</script></svg>",
    '"><script>alert(5)</script>',
    "'><img src=x onerror=alert(6)>",
    "javascript:alert(7)",
    '<a href="javascript:alert(8)">x</a>',
    '<iframe src="javascript:alert(9)"></iframe>',
    "<body onload=alert(10)>",
    "<details open ontoggle=alert(11)>",
    "<input autofocus onfocus=alert(12)>",
    "<video><source onerror=alert(13)></video>",
    "<math><mtext><img src=x onerror=alert(14)></mtext></math>",
    '<object data="javascript:alert(15)"></object>',
    '<embed src="javascript:alert(16)">',
    "<style>@import 'javascript:alert(17)'</style>",
    '<div style="background:url(javascript:alert(18))">x</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(19)">',
    '<base href="javascript:alert(20)//">',
    "[md link](javascript:alert(21))",
    '![md image](x" onerror="alert(22))',
    "<scr<script>ipt>alert(23)</script>",
    "&lt;script&gt;alert(24)&lt;/script&gt;",
    "{{7*7}} {% print(25) %} ${alert(25)}",
    "</textarea><script>alert(26)</script>",
    '<form action="javascript:alert(27)"><button>x</button></form>',
    '<a href="  JaVaScRiPt:alert(28)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgyOSk8L3NjcmlwdD4=">x</a>',
    '<img src="x" onerror="&#97;lert(30)">',
    "<svg/onload=alert(31)>",
    "[[<img src=x onerror=alert(32)>]]",
    "'\"--></style></script><script>alert(33)</script>",
    "<x onclick=alert(34)>click</x>",
    '"onmouseover="alert(35)',
]


def q(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def make_payload_vault(root: Path) -> list[str]:
    """Write one note per payload with the payload in every rendered field. Returns the note ids."""
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    ids, bib = [], []
    n = len(PAYLOADS)
    for i, p in enumerate(PAYLOADS):
        nid = f"payload-{i:02d}"
        ids.append(nid)
        nxt = f"payload-{(i + 1) % n:02d}"
        front = "\n".join(
            [
                "---",
                f"title: {q(p + ' is this safe?')}",
                f"dek: {q(p)}",
                f"claim: {q(p)}",
                f"aliases: [{q('alias ' + p)}]",
                f"strand: {q(p)}",
                f"tags: [{q('x' + p)}]",
                f"sources: [payload{i}]",
                "related:",
                f"  - {{to: {nxt}, relation: {q(p)}, note: {q(p)}}}",
                "claims:",
                f"  - {{id: payload-claim-{i}, title: {q(p)}, experiment: payload_exp, "
                f"prediction: [{{metric: {q(p)}, op: '<', value: 1}}]}}",
                "---",
            ]
        )
        body = f"{p}\n\nA link [[{nxt}|{p}]] and [[{p}]] and [text]({p}) in a sentence about quiescent payloads.\n"
        (root / f"{nid}.md").write_text(front + "\n" + body)
        bib.append(f"@article{{payload{i},\n  title = {{{p} paper}},\n  author = {{{p}}},\n  journal = {{{p}}},\n"
                   f"  year = {{2020}}\n}}\n")  # fmt: skip
    (root / "payloads.bib").write_text("\n".join(bib))
    doc = " ".join(PAYLOADS).replace('"""', "'''").replace("\\", "")
    (root / "experiments" / "payload_exp.py").write_text(
        f'"""{doc}"""\n\nPARAMS = {{}}\n\n\ndef run(params, seed, outdir):\n    return {{}}\n'
    )
    return ids
