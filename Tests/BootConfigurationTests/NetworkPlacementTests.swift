/// Tests of the network placement planner: dedicated and symmetric plans, program routing, and every error.
import BootConfiguration
import XCTest

final class NetworkPlacementTests: XCTestCase {
    /// Options as a command line gives them.
    private func options(_ text: String) -> BootOptions {
        var options = BootOptions()
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            CommandLineParser.parse(buffer, into: &options) { problem in XCTFail("bad word in '\(text)': \(problem)") }
        }
        return options
    }

    private func plan(_ text: String, cpus: Int, queues: Int) -> Result<NetworkPlacement, NetworkPlacementError> {
        NetworkPlacement.plan(options: options(text), onlineCPUs: cpus, queuePairs: queues)
    }

    private func placement(_ text: String, cpus: Int, queues: Int,
                           file: StaticString = #filePath, line: UInt = #line) throws -> NetworkPlacement {
        switch plan(text, cpus: cpus, queues: queues) {
        case .success(let placement): return placement
        case .failure(let error):
            XCTFail("'\(text)' on \(cpus) CPUs, \(queues) queues: \(error)", file: file, line: line)
            throw error
        }
    }

    private func contexts(_ pairs: [(cpu: Int, queuePair: Int)]) -> [NetworkPlacement.Context] {
        pairs.map { NetworkPlacement.Context(cpu: $0.cpu, queuePair: $0.queuePair) }
    }

    // MARK: Dedicated

    func testDefaultIsTodaysOneNetworkCoreOnCPU0() throws {
        let placement = try placement("", cpus: 4, queues: 1)
        XCTAssertEqual(placement.mode, .dedicated)
        XCTAssertEqual(placement.contexts, contexts([(0, 0)]))
        XCTAssertEqual(placement.applicationCPUs, [1, 2, 3])
        XCTAssertEqual(placement.defaultProgramCPUs, [1, 2, 3])
        XCTAssertTrue(placement.hasApplicationCPU)
        XCTAssertFalse(placement.mayRunPrograms(on: 0))
        XCTAssertEqual([1, 2, 3].map { placement.context(servingProgramOn: $0) }, [0, 0, 0])
        XCTAssertNil(placement.context(servingProgramOn: 0))
        XCTAssertNil(placement.context(servingProgramOn: 4))
        // An explicit net-mode=dedicated changes nothing.
        XCTAssertEqual(try self.placement("net-mode=dedicated", cpus: 4, queues: 1), placement)
    }

    func testOneNetworkCoreOnAnotherCPULeavesCPU0ToTheKernel() throws {
        let placement = try placement("net-cpu=2", cpus: 4, queues: 1)
        XCTAssertEqual(placement.contexts, contexts([(2, 0)]))
        // cpu0 is the boot CPU: it runs the kernel's services, never a program, in dedicated mode.
        XCTAssertEqual(placement.applicationCPUs, [1, 3])
        XCTAssertEqual(placement.context(servingProgramOn: 3), 0)
        XCTAssertNil(placement.context(servingProgramOn: 2))
    }

    func testSeveralNetworkCoresEachOwnAQueuePairInListOrder() throws {
        let placement = try placement("net-cpus=2+1", cpus: 6, queues: 4)
        XCTAssertEqual(placement.contexts, contexts([(2, 0), (1, 1)]))
        XCTAssertEqual(placement.applicationCPUs, [3, 4, 5])
        XCTAssertEqual(try self.placement("net-cpus=1-3", cpus: 6, queues: 3).contexts, contexts([(1, 0), (2, 1), (3, 2)]))
    }

    func testProgramsAreServedRoundRobinOverTheNetworkCores() throws {
        // Application CPUs 1, 4, 5, 6, 7 around network CPUs 0, 2, 3: positions 0...4 in turn.
        let placement = try placement("net-cpus=0+2-3", cpus: 8, queues: 4)
        XCTAssertEqual(placement.applicationCPUs, [1, 4, 5, 6, 7])
        XCTAssertEqual(placement.applicationCPUs.map { placement.context(servingProgramOn: $0) }, [0, 1, 2, 0, 1])
        for cpu in [0, 2, 3, 8, -1] { XCTAssertNil(placement.context(servingProgramOn: cpu), "cpu\(cpu)") }
    }

    func testOnlyNetworkCPUsIsAllowedButHasNoApplicationCPU() throws {
        let single = try placement("", cpus: 1, queues: 1)
        XCTAssertEqual(single.contexts, contexts([(0, 0)]))
        XCTAssertFalse(single.hasApplicationCPU)
        XCTAssertEqual(single.defaultProgramCPUs, [])
        let both = try placement("net-cpus=0+1", cpus: 2, queues: 2)
        XCTAssertFalse(both.hasApplicationCPU)
        XCTAssertNil(both.context(servingProgramOn: 1))
        // cpu0 is not an application CPU in dedicated mode, so net-cpu=1 on two CPUs leaves none.
        XCTAssertFalse(try placement("net-cpu=1", cpus: 2, queues: 1).hasApplicationCPU)
    }

    func testNetworkCPUMustBeOnline() {
        XCTAssertEqual(plan("net-cpu=4", cpus: 4, queues: 1), .failure(.cpuNotOnline(4)))
        // The first offending CPU in list order is the one named.
        XCTAssertEqual(plan("net-cpus=1+7+5", cpus: 4, queues: 8), .failure(.cpuNotOnline(7)))
        XCTAssertEqual(plan("net-cpus=3-4", cpus: 4, queues: 2), .failure(.cpuNotOnline(4)))
        XCTAssertEqual(plan("net-cpus=3", cpus: 4, queues: 1).map(\.contexts), .success(contexts([(3, 0)])))
    }

    func testEachNetworkCoreNeedsAQueuePair() {
        XCTAssertEqual(plan("net-cpus=0+1", cpus: 4, queues: 1), .failure(.moreNetworkCPUsThanQueues(cpus: 2, queues: 1)))
        XCTAssertEqual(plan("net-cpus=0-3", cpus: 4, queues: 3), .failure(.moreNetworkCPUsThanQueues(cpus: 4, queues: 3)))
        XCTAssertEqual(plan("", cpus: 4, queues: 0), .failure(.moreNetworkCPUsThanQueues(cpus: 1, queues: 0)))
        XCTAssertEqual(plan("net-cpus=0-2", cpus: 4, queues: 3).map(\.contexts.count), .success(3))
    }

    func testAnEmptyHandBuiltListMeansTheDefault() throws {
        var options = BootOptions()
        options.networkCPUs = []
        let placement = try NetworkPlacement.plan(options: options, onlineCPUs: 3, queuePairs: 1).get()
        XCTAssertEqual(placement.contexts, contexts([(0, 0)]))
        XCTAssertEqual(placement.applicationCPUs, [1, 2])
    }

    // MARK: Symmetric

    func testSymmetricWithOneQueuePairInterruptsCPU0AndStartsProgramsFromCPU1() throws {
        let placement = try placement("net-mode=symmetric", cpus: 4, queues: 1)
        XCTAssertEqual(placement.mode, .symmetric)
        XCTAssertEqual(placement.contexts, contexts([(0, 0)]))
        // No CPU is reserved: every CPU may run a program, but the defaults keep off cpu0.
        XCTAssertEqual(placement.applicationCPUs, [0, 1, 2, 3])
        XCTAssertEqual(placement.defaultProgramCPUs, [1, 2, 3])
        XCTAssertTrue(placement.mayRunPrograms(on: 0))
        XCTAssertEqual((0..<4).map { placement.context(servingProgramOn: $0) }, [0, 0, 0, 0])
        XCTAssertNil(placement.context(servingProgramOn: 4))
    }

    func testSymmetricOnOneCPURunsProgramsOnCPU0() throws {
        let placement = try placement("net-mode=symmetric", cpus: 1, queues: 1)
        XCTAssertEqual(placement.contexts, contexts([(0, 0)]))
        XCTAssertEqual(placement.defaultProgramCPUs, [0])
        XCTAssertTrue(placement.hasApplicationCPU)
    }

    func testSymmetricWithAQueuePairPerCPU() throws {
        let placement = try placement("net-mode=symmetric", cpus: 4, queues: 4)
        XCTAssertEqual(placement.contexts, contexts([(0, 0), (1, 1), (2, 2), (3, 3)]))
        XCTAssertEqual(placement.applicationCPUs, [0, 1, 2, 3])
        XCTAssertEqual(placement.defaultProgramCPUs, [0, 1, 2, 3])
        // Each CPU is served by the context whose queue it owns.
        XCTAssertEqual((0..<4).map { placement.context(servingProgramOn: $0) }, [0, 1, 2, 3])
    }

    func testSymmetricContextsAreTheSmallerOfQueuePairsAndCPUs() throws {
        // More queue pairs than CPUs: the extra queues get no context.
        XCTAssertEqual(try placement("net-mode=symmetric", cpus: 2, queues: 8).contexts, contexts([(0, 0), (1, 1)]))
        // More CPUs than queue pairs: CPUs without a queue share the contexts in turn.
        let placement = try placement("net-mode=symmetric", cpus: 5, queues: 2)
        XCTAssertEqual(placement.contexts, contexts([(0, 0), (1, 1)]))
        XCTAssertEqual((0..<5).map { placement.context(servingProgramOn: $0) }, [0, 1, 0, 1, 0])
    }

    func testSymmetricWithoutQueuePairsHasNoContext() throws {
        let placement = try placement("net-mode=symmetric", cpus: 2, queues: 0)
        XCTAssertEqual(placement.contexts, [])
        XCTAssertEqual(placement.applicationCPUs, [0, 1])
        XCTAssertNil(placement.context(servingProgramOn: 1))
    }

    func testSymmetricRefusesExplicitNetworkCPUs() {
        for text in ["net-mode=symmetric net-cpu=0", "net-cpu=1 net-mode=symmetric", "net-mode=symmetric net-cpus=0+1",
                     "net-cpus=2 net-mode=symmetric"] {
            XCTAssertEqual(plan(text, cpus: 4, queues: 4), .failure(.networkCPUsInSymmetricMode), text)
        }
        // The same list in dedicated mode is fine.
        XCTAssertEqual(plan("net-mode=symmetric net-cpus=0+1 net-mode=dedicated", cpus: 4, queues: 4).map(\.mode),
                       .success(.dedicated))
    }

    // MARK: Messages

    func testEveryErrorHasAMessage() {
        let errors: [NetworkPlacementError] = [.cpuNotOnline(3), .moreNetworkCPUsThanQueues(cpus: 2, queues: 1),
                                               .networkCPUsInSymmetricMode]
        var seen: Set<String> = []
        for error in errors {
            let text = error.message.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
            XCTAssertFalse(text.isEmpty, "\(error)")
            seen.insert(text)
        }
        XCTAssertEqual(seen.count, errors.count)
        XCTAssertTrue(NetworkPlacementError.networkCPUsInSymmetricMode.message.description.contains("net-mode=symmetric"))
    }
}
