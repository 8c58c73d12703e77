/// The checks on a request's fields that need no state: operation, reserved fields, payload range.

/// Checks the stateless parts of a request read from a program's ring (a private copy of the
/// slot). The stateful checks — socket bound, buffer owned — are `ServerChannel`'s and
/// `BufferOwnership`'s.
public enum RequestValidator {
    /// The request's operation, or `unknownRequest` when the operation is not one we know, a
    /// reserved field is not 0 (so they can be given a meaning later without ambiguity), or a
    /// flag is set that the operation does not have (only `send` and `streamSend` have one,
    /// `postAfterSend`).
    public static func operation(of request: ChannelRequest) -> Result<ChannelRequest.Operation, ChannelError> {
        guard request.reserved1 == 0,
              let operation = ChannelRequest.Operation(rawValue: request.operation)
        else { return .failure(.unknownRequest) }
        let allowed = operation == .send || operation == .streamSend ? ChannelRequest.postAfterSend : 0
        guard request.flags & ~allowed == 0 else { return .failure(.unknownRequest) }
        return .success(operation)
    }

    /// Whether `offset..<offset+length` lies inside a buffer of `bufferSize` bytes. Computed in
    /// 64 bits, where two 32-bit values cannot overflow: `offset = 0xFFFF_FFFF, length = 2`
    /// would wrap to 1 in 32-bit arithmetic and pass.
    public static func payloadFits(offset: UInt32, length: UInt32, bufferSize: UInt32) -> Bool {
        UInt64(offset) + UInt64(length) <= UInt64(bufferSize)
    }
}
