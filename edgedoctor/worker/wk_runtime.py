# Placeholder replaced by the runtime probe (issue 3): load libedgetpu with ctypes and ask its C API.
def run(payload):
    return {"found": False, "error": "runtime probe not implemented yet"}
