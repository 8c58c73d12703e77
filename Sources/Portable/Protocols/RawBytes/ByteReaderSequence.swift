// Iteration over the bytes of a ByteReader without allocating.

extension ByteReader: Sequence {
    /// Iterates the bytes of a `ByteReader` in order.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let reader: ByteReader
        @usableFromInline var offset: Int

        @usableFromInline init(reader: ByteReader) {
            self.reader = reader
            self.offset = 0
        }

        /// The next byte, or `nil` after the last one.
        public mutating func next() -> UInt8? {
            guard let byte = reader.u8(at: offset) else { return nil }
            offset += 1
            return byte
        }
    }

    /// An iterator over the bytes of this view.
    public func makeIterator() -> Iterator { Iterator(reader: self) }

    /// The number of bytes, known without iterating.
    public var underestimatedCount: Int { count }
}
