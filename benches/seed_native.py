"""Seeds a node for the benches: creates PREFIX/BENCH-nnnnnn with pipelined OC 100 requests over
native TCP, each challenge answered at once, and writes the mean size of a resolution answer.

Usage: seed_native.py CONFORMANCE_NATIVE_DIR HOST:PORT SECRET_FILE COUNT PREFIX SIZE_FILE
"""
import sys
sys.path.insert(0, sys.argv[1])
import hdlclient as h

host, port = sys.argv[2].rsplit(":", 1)
secret = open(sys.argv[3], "rb").read().rstrip(b"\n")
count, prefix, size_file = int(sys.argv[4]), sys.argv[5], sys.argv[6]
admin = h.SecretKeyIdentity(f"{prefix}/ADMIN", 300, secret, mode="sha1")

def values(n):
    name = f"{prefix}/BENCH-{n:06d}"
    return [h.admin_value(100, h.PERM_ALL, admin.handle, admin.index),
            h.text_value(1, "URL", f"https://id.example.cn/products/{n:06d}"),
            h.text_value(2, "DESC", f"Hazardous chemical product {n:06d}, UN1090 acetone, 200 L drum"),
            h.text_value(3, "EMAIL", "safety@chem-enterprise.example.cn"),
            h.text_value(4, "CHEM_INFO", '{"cas":"67-64-1","un":"1090","ghs":["GHS02","GHS07"],"batch":"%06d"}' % n)]

t = h.TcpTransport(host, int(port), timeout=60)
c = h.Client(t)
window, next_n, pending, done = 128, 0, {}, 0
while done < count:
    while next_n < count and len(pending) < window:
        msg = c.message(h.OC.CREATE_HANDLE, h.body_values(f"{prefix}/BENCH-{next_n:06d}", values(next_n)))
        t.send(msg)
        pending[msg.request_id] = msg
        next_n += 1
    reply = t.read_message()
    original = pending.pop(reply.request_id, None)
    if original is None:
        raise SystemExit(f"unexpected reply {reply.request_id}")
    resp = h.parse_response(reply)
    if resp.rc == h.RC.AUTHENTICATION_NEEDED:
        answer = admin.answer(resp.nonce, resp.digest)
        body = h.body_challenge_answer(admin.auth_type, admin.handle, admin.index, answer)
        msg = c.message(h.OC.RESPONSE_TO_CHALLENGE, body, original.flags, session_id=reply.session_id,
                        site_serial=0xFFFF)
        t.send(msg)
        pending[msg.request_id] = original
    elif resp.rc == h.RC.SUCCESS:
        done += 1
    else:
        raise SystemExit(f"create failed: RC {resp.rc} {resp.message}")
# The size of one resolution answer (envelope + message), as sent over UDP.
u = h.Client(h.UdpTransport(host, int(port)))
sizes = [len(u.resolve(f"{prefix}/BENCH-{n:06d}").msg.encode()) for n in range(0, count, max(1, count // 10))]
open(size_file, "w").write(str(round(sum(sizes) / len(sizes))))
print(f"seeded {count} handles; resolution answers are {sizes[0]} bytes")
