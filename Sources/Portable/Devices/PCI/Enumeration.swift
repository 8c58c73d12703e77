/// Finds every present PCI function by probing all buses, devices and functions.

/// Calls `visit` for every function that answers, in bus, device, function order.
///
/// Brute force over 256 buses × 32 devices (8192 dword reads plus a few per present
/// function) instead of following bridges: simple, and it also finds functions behind
/// bridges that firmware numbered. Functions 1–7 are probed only when function 0 is present
/// and sets the multi-function bit (§6.2.1): single-function devices may decode every
/// function number as function 0, which would show them eight times.
public func enumerateFunctions<Space: ConfigurationSpace>(_ space: Space, visit: (PCIFunction) -> Void) {
    var bus = 0
    while bus < 256 {
        var device: UInt8 = 0
        while device < 32 {
            let first = PCIAddress(bus: UInt8(bus), device: device, function: 0)
            if let function0 = PCIFunction(space: space, address: first) {
                visit(function0)
                if function0.multiFunction {
                    var function: UInt8 = 1
                    while function < 8 {
                        let address = PCIAddress(bus: UInt8(bus), device: device, function: function)
                        if let other = PCIFunction(space: space, address: address) { visit(other) }
                        function += 1
                    }
                }
            }
            device += 1
        }
        bus += 1
    }
}
