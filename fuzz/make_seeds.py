#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/) from real material: the shared test
vectors (tests/vectors/), the simulator's answers in derived-simulator-vectors.json, the
configuration examples (config/) and the trade-bill sample. Run from fuzz/: python3 make_seeds.py
"""
import base64, hashlib, json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
V = ROOT / "tests" / "vectors"
OUT = ROOT / "fuzz" / "corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# answer_json: the simulator's answers (derived vectors) and error/refund shapes.
sim = json.loads((V / "derived-simulator-vectors.json").read_text())
for r in sim["responses"][:3]:
    if r.get("body"):
        put("answer_json", r["id"] + ".json", r["body"])
put("answer_json", "error.json", '{"code":"USERPAYING","message":"需要用户输入支付密码"}')
put("answer_json", "refund.json", json.dumps({
    "refund_id": "50000000382019052709732678859", "out_refund_no": "1217752501201407033233368018",
    "transaction_id": "4200000000000000000000000001", "out_trade_no": "1217752501201407033233368018",
    "channel": "ORIGINAL", "user_received_account": "招商银行信用卡0403", "status": "PROCESSING",
    "create_time": "2019-04-02T20:34:25+08:00",
    "amount": {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100,
               "settlement_refund": 100, "settlement_total": 100, "discount_refund": 0,
               "currency": "CNY"}}, ensure_ascii=False))

# APIv2 answers, signed MD5 with the classic example key (v2-sign.json).
KEY = json.loads((V / "v2-sign.json").read_text())["key"]


def v2(fields, cdata=True):
    s = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v != "")
    fields = dict(fields, sign=hashlib.md5((s + "&key=" + KEY).encode()).hexdigest().upper())
    wrap = (lambda v: f"<![CDATA[{v}]]>") if cdata else (lambda v: v)
    return "<xml>" + "".join(f"<{k}>{wrap(v)}</{k}>" for k, v in fields.items()) + "</xml>"


base = {"return_code": "SUCCESS", "return_msg": "OK", "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100", "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"}
paid = dict(base, result_code="SUCCESS", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            trade_type="MICROPAY", bank_type="CMC", total_fee="888", fee_type="CNY",
            transaction_id="4200000000000000000000000001",
            out_trade_no="1217752501201407033233368018", time_end="20190402203425")
paying = dict(base, result_code="FAIL", err_code="USERPAYING", err_code_des="需要用户输入支付密码")
for t in ("answer_xml", "v2_xml"):
    put(t, "micropay-success.xml", v2(paid))
    put(t, "micropay-userpaying.xml", v2(paying, cdata=False))
    put(t, "communication-fail.xml", "<xml><return_code><![CDATA[FAIL]]></return_code>"
        "<return_msg><![CDATA[签名错误]]></return_msg></xml>")
put("v2_xml", "escapes.xml", "\ufeff<?xml version=\"1.0\"?><!-- c --><xml><a>&lt;&#x41;&amp;&#66;"
    "<![CDATA[]]]]><![CDATA[>]]></a><b/></xml>\n")

# trade_bill: the real ALL-type sample, and its header + one row + summary.
bill = (V / "tradebill-ALL-sample.csv").read_bytes()
put("trade_bill", "ALL-sample.csv", bill)
lines = bill.split(b"\r\n")
put("trade_bill", "ALL-one-row.csv", b"\r\n".join(lines[:2] + lines[-4:]))

# scanner_framing: codes with CR, LF, CRLF, split across chunks.
put("scanner_framing", "crlf", b"134567890123456789\r\n")
put("scanner_framing", "two-codes", b"\x05134567890123456789\r\x60\x11\x02287654321098765432\n")
put("scanner_framing", "noise", bytes(range(256)))

# amount: what a cashier types.
for i, s in enumerate(["12.34", "0.01", "5000", "5000.00", "1,000.5", "¥8.88", " 3 "]):
    put("amount", f"a{i}", s)

# config: the two configuration examples.
put("config", "demo.toml", (ROOT / "config" / "demo.toml").read_bytes())
put("config", "example.toml", (ROOT / "config" / "scanpay.example.toml").read_bytes())

# certs: the real GET /v3/certificates blob (wechatpay-java), and certificates for the sealed
# path (mode byte: even = PEM text, odd = DER).
java = json.loads((V / "wechatpay-java.json").read_text())["certificate_download_decrypt"]
put("certs", "list-wechatpay-java.json", json.dumps({"data": [{
    "serial_no": "5DEA10EF", "effective_time": "2021-01-01T00:00:00+08:00",
    "expire_time": "2026-01-01T00:00:00+08:00",
    "encrypt_certificate": {k: java[k] for k in ("algorithm", "nonce", "associated_data",
                                                  "ciphertext")}}]}))
for name in ("wechatpay-java_decrypted_platform_cert_5DEA10EF.pem",
             "wechatpay-go_test_cert_D7CE59D1F522D701.pem"):
    pem = (V / name).read_bytes()
    put("certs", "pem-" + name[:20], b"\x00" + pem)
    der = base64.b64decode(b"".join(l for l in pem.splitlines() if not l.startswith(b"-----")))
    put("certs", "der-" + name[:20], b"\x01" + der)
