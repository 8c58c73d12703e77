/// The stack and the TCP table as a context's channels need them: the `ChannelRequestHandler` of a context.
import RawBytes
import Channels
import Network

/// Serves channel requests through the context's stack and table. It reaches them through the
/// context's pointers; the channel being served is separate state, so the accesses never overlap.
struct ContextRequestHandler<Receiver: FrameReceiver, Sender: FrameSender, Host: NetworkContextHost>: ChannelRequestHandler {
    let context: NetworkContext<Receiver, Sender, Host>
    let now: UInt64

    mutating func bind(port: UInt16, channel: Int, socket: UInt16) -> Result<Void, ChannelError> {
        guard context.stack.pointee.bind(port: port, listener: PortListener.socket(channel: channel, socket: socket).rawValue)
        else { return .failure(.portInUse) }
        context.mesh.pointee.directory.claim(.udp, port: port, context: context.index)
        return .success(())
    }

    mutating func unbind(port: UInt16, channel: Int, socket: UInt16) {
        if context.stack.pointee.listener(of: port) == PortListener.socket(channel: channel, socket: socket).rawValue {
            context.stack.pointee.unbind(port: port)
            context.mesh.pointee.directory.release(.udp, port: port, context: context.index)
        }
    }

    mutating func send(payload: UnsafeRawBufferPointer, to destination: (address: UInt32, port: UInt16),
                       from sourcePort: UInt16) -> Result<Void, ChannelError> {
        switch context.stack.pointee.sendDatagram(from: sourcePort, to: IPv4Address(rawValue: destination.address),
                                                  port: destination.port, payload: payload, now: now,
                                                  transmitter: &context.sender.pointee) {
        case .sent, .queued: .success(())
        case .datagramTooLarge: .failure(.datagramTooLarge)
        case .noRoute: .failure(.noRoute)
        case .queueFull, .transmitRingFull: .failure(.throttled)
        }
    }

    mutating func listen(port: UInt16, channel: Int) -> Result<Void, ChannelError> {
        context.listen(port: port, channel: channel)
    }

    mutating func connect(to destination: (address: UInt32, port: UInt16), channel: Int,
                          cookie: UInt64) -> Result<Void, ChannelError> {
        context.connect(to: destination, channel: channel, cookie: cookie, now: now)
    }

    func ownsConnection(_ connection: UInt16, channel: Int) -> Bool {
        context.owns(connection, channel: channel)
    }

    mutating func streamWrite(connection: UInt16, channel: Int, bytes: UnsafeRawBufferPointer, lending: StreamLending) -> Result<StreamWrite, ChannelError> {
        context.write(connection, bytes: bytes, lending: lending, now: now)
    }

    mutating func streamSendProgress(connection: UInt16, channel: Int) -> StreamSendProgress {
        context.sendProgress(connection)
    }

    mutating func streamRecall(connection: UInt16, channel: Int) -> Bool {
        context.recall(connection)
    }

    mutating func streamShutdown(connection: UInt16, channel: Int) {
        context.shutdown(connection, now: now)
    }

    mutating func streamRelease(connection: UInt16, channel: Int) {
        context.release(connection, now: now)
    }
}
