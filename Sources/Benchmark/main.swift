print("swiglet-bench: not written yet")
