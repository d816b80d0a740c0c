"""Uploaded files into text: each format read, each bad file refused with the message that names it."""

from __future__ import annotations

import io

import pytest

from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.retrieval.loaders import MAX_FILE_BYTES, document_name, load_document


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer (Helvetica, ASCII text), offsets computed."""
    text_ops = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    content = f"BT /F1 12 Tf 40 760 Td {text_ops} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def blank_pdf(password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    from docx import Document

    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    if table:
        grid = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def refused(name: str, data: bytes, **kwargs: object) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as caught:
        load_document(name, data, **kwargs)  # type: ignore[arg-type]
    err = caught.value
    assert err.kind is ErrorKind.VALIDATION
    return err


def english(err: PlaygroundError) -> str:
    return explain(err, "en").fix


# ---- formats ----------------------------------------------------------------------------------
def test_utf8_text_and_markdown() -> None:
    doc = load_document("notes/说明.txt", "年假五天。\r\n\r\n\r\n\r\n病假需证明。".encode())
    assert doc.name == "说明.txt" and doc.kind == "txt" and doc.encoding == "utf-8"
    assert doc.text == "年假五天。\n\n病假需证明。"
    md = load_document("README.md", b"# Title\n\nSome *text*.")
    assert md.kind == "md" and md.text.startswith("# Title")


@pytest.mark.parametrize("encoding", ["gbk", "utf-16", "big5"])
def test_other_encodings_are_detected(encoding: str) -> None:
    text = "員工每年享有帶薪年假，工作滿一年的員工可以休假五天。報銷需要提交發票。" * 3
    doc = load_document("policy.txt", text.encode(encoding))
    assert doc.text == text


def test_utf8_bom_is_dropped() -> None:
    assert load_document("a.txt", b"\xef\xbb\xbfhello").text == "hello"


def test_csv_rows_keep_their_column_names() -> None:
    data = "产品,价格,说明\nGLM-4-Plus,5元,旗舰模型\nGLM-4-Flash,0元,免费模型\n".encode()
    doc = load_document("prices.csv", data)
    assert doc.text.splitlines() == ["产品: GLM-4-Plus; 价格: 5元; 说明: 旗舰模型",
                                     "产品: GLM-4-Flash; 价格: 0元; 说明: 免费模型"]


def test_html_keeps_visible_text_only() -> None:
    html = ("<html><head><title>退款政策</title><style>p{color:red}</style>"
            "<script>alert('x')</script></head><body><h1>退款</h1><p>七天内可以退款&amp;换货。</p>"
            "<ul><li>一</li><li>二</li></ul></body></html>")
    doc = load_document("page.html", html.encode())
    assert doc.text.splitlines() == ["退款政策", "退款", "七天内可以退款&换货。", "一", "二"]
    assert "alert" not in doc.text and "color" not in doc.text


def test_docx_paragraphs_and_tables_in_order() -> None:
    data = make_docx(["第一段：年假五天。", "第二段：病假需证明。"], [["项目", "金额"], ["差旅", "500"]])
    doc = load_document("handbook.docx", data)
    assert doc.text.splitlines() == ["第一段：年假五天。", "第二段：病假需证明。",
                                     "项目 | 金额", "差旅 | 500"]


def test_pdf_text_layer() -> None:
    doc = load_document("guide.pdf", make_pdf(["Refunds within 7 days.", "Contact support."]))
    assert doc.kind == "pdf" and doc.pages == 1
    assert "Refunds within 7 days." in doc.text and "Contact support." in doc.text


def test_pdf_with_only_an_owner_password_is_read() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Owner locked but readable"]))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert "Owner locked but readable" in load_document("o.pdf", out.getvalue()).text


# ---- bad files ----------------------------------------------------------------------------------
def test_empty_file() -> None:
    err = refused("empty.txt", b"")
    assert err.params["key"] == "retrieval.error.empty_file"
    assert "empty.txt" in english(err)


def test_whitespace_only_file_has_no_text() -> None:
    err = refused("blank.md", b" \n\n\t ")
    assert err.params["key"] == "retrieval.error.no_text"


def test_binary_file_with_a_text_extension() -> None:
    err = refused("photo.txt", bytes(range(256)) * 40)
    assert err.params["key"] == "retrieval.error.binary"
    assert "photo.txt" in english(err)


def test_oversized_file() -> None:
    err = refused("big.txt", b"a" * 2048, max_bytes=1024)
    assert err.params["key"] == "retrieval.error.too_big"
    assert MAX_FILE_BYTES == 20 * 1024 * 1024
    assert "big.txt" in english(err)


def test_unsupported_type_lists_what_is_read() -> None:
    err = refused("slides.pptx", b"PK\x03\x04")
    assert err.params["key"] == "retrieval.error.unsupported"
    assert "docx" in english(err) and "pdf" in english(err)


def test_encrypted_pdf() -> None:
    err = refused("secret.pdf", blank_pdf(password="secret"))
    assert err.params["key"] == "retrieval.error.encrypted"
    assert "secret.pdf" in english(err)


def test_scanned_pdf_without_a_text_layer() -> None:
    err = refused("scan.pdf", blank_pdf())
    assert err.params["key"] == "retrieval.error.no_text_layer"
    assert "OCR" in english(err)


def test_damaged_pdf_and_docx() -> None:
    assert refused("broken.pdf", b"%PDF-1.4\n garbage").params["key"] == "retrieval.error.damaged"
    assert refused("broken.docx", b"PK\x03\x04 not really a zip").params["key"] == "retrieval.error.damaged"


def test_encrypted_docx_is_an_ole_file() -> None:
    err = refused("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert err.params["key"] == "retrieval.error.encrypted_or_doc"


def test_every_error_has_both_languages() -> None:
    from core.i18n import catalogue

    keys = ["empty_file", "no_text", "binary", "too_big", "unsupported", "encrypted", "no_text_layer",
            "damaged", "encrypted_or_doc"]
    for key in keys:
        entry = catalogue()[f"retrieval.error.{key}"]
        assert entry.get("en") and entry.get("zh"), key


def test_document_name_drops_folders() -> None:
    assert document_name("C:\\Users\\me\\年度报告.pdf") == "年度报告.pdf"
    assert document_name("../../etc/passwd.txt") == "passwd.txt"
    assert document_name("") == "document"
