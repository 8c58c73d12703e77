print("linux-echo-server: not written yet")
