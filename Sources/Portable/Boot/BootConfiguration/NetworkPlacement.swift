/// Network placement: which CPUs run (or take the interrupts of) the network contexts, which CPUs run programs.

/// Why `NetworkPlacement.plan` refused the boot options. Each case carries the offending
/// values so that the kernel log can name them after `message`.
public enum NetworkPlacementError: Error, Equatable, Sendable {
    /// `net-cpu=`/`net-cpus=` names a CPU that is not online (the value is that CPU).
    case cpuNotOnline(Int)
    /// `net-cpus=` lists more CPUs than the NIC has queue pairs: each network core owns one.
    case moreNetworkCPUsThanQueues(cpus: Int, queues: Int)
    /// `net-mode=symmetric` together with `net-cpu=` or `net-cpus=`: symmetric mode reserves
    /// no CPU, so the request cannot be honoured, and silently dropping it would hide that.
    case networkCPUsInSymmetricMode

    /// A short explanation for the kernel log, which prints the associated values beside it.
    public var message: StaticString {
        switch self {
        case .cpuNotOnline: "a network CPU is not online"
        case .moreNetworkCPUsThanQueues: "more network CPUs than NIC queue pairs"
        case .networkCPUsInSymmetricMode: "net-cpu=/net-cpus= cannot be used with net-mode=symmetric, which reserves no CPU"
        }
    }
}

/// Where the network runs and where programs run, decided once at boot from the options, the
/// number of online CPUs and the NIC's queue pairs. A plain value: the kernel acts on it, the
/// host tests check it.
public struct NetworkPlacement: Equatable, Sendable {
    /// One network context: a NIC queue pair, its protocol state, and the CPU it lives on.
    public struct Context: Equatable, Sendable {
        /// Dedicated mode: the CPU that runs this network core. Symmetric mode: the CPU that
        /// takes this queue pair's interrupt and does its work.
        public var cpu: Int
        /// The NIC queue pair this context owns (0-based, the order `contexts` has).
        public var queuePair: Int

        public init(cpu: Int, queuePair: Int) {
            self.cpu = cpu
            self.queuePair = queuePair
        }
    }

    /// The mode the options asked for.
    public var mode: NetworkMode
    /// The network contexts; context `i` owns queue pair `i`.
    public var contexts: [Context]
    /// The CPUs on which programs may run, ascending.
    public var applicationCPUs: [Int]
    /// The CPUs the kernel fills, in this order, with the programs it starts by default (when
    /// the command line has no `run=`). A subset of `applicationCPUs`.
    public var defaultProgramCPUs: [Int]
    /// How many CPUs were online when the plan was made.
    public var onlineCPUs: Int

    /// Whether any CPU is left for programs. A machine whose every CPU runs a network core is
    /// a valid (if useless for programs) dedicated plan, not an error: the network still answers.
    public var hasApplicationCPU: Bool { !applicationCPUs.isEmpty }

    /// Whether a program may run on `cpu`.
    public func mayRunPrograms(on cpu: Int) -> Bool { applicationCPUs.contains(cpu) }

    /// The index in `contexts` of the context that serves a program on `cpu`, or nil when no
    /// program may run there (or there is no context).
    ///
    /// Dedicated: round-robin over the network cores in the order of the application CPUs, so
    /// that the k-th application CPU is served by core k mod (number of cores) whatever gaps
    /// the network CPUs leave. Symmetric: the context whose queue pair `cpu` owns; a CPU that
    /// owns none (more CPUs than queue pairs) is spread the same way, by `cpu` mod the number
    /// of contexts, which with one queue pair is always context 0.
    public func context(servingProgramOn cpu: Int) -> Int? {
        guard !contexts.isEmpty else { return nil }
        switch mode {
        case .dedicated:
            guard let position = applicationCPUs.firstIndex(of: cpu) else { return nil }
            return position % contexts.count
        case .symmetric:
            guard mayRunPrograms(on: cpu) else { return nil }
            return cpu % contexts.count
        }
    }

    public init(mode: NetworkMode, contexts: [Context], applicationCPUs: [Int], defaultProgramCPUs: [Int], onlineCPUs: Int) {
        self.mode = mode
        self.contexts = contexts
        self.applicationCPUs = applicationCPUs
        self.defaultProgramCPUs = defaultProgramCPUs
        self.onlineCPUs = onlineCPUs
    }

    /// Plans the network's placement for `options` on a machine with CPUs 0..<`onlineCPUs`
    /// and a NIC with `queuePairs` queue pairs.
    ///
    /// Dedicated: one context per network CPU (`options.networkCPUs`, default cpu0), in list
    /// order, context i owning queue pair i. Every network CPU must be online
    /// (`.cpuNotOnline`, the first one in list order), and there must be a queue pair for each
    /// (`.moreNetworkCPUsThanQueues`). Programs run on the other CPUs except cpu0: the boot CPU
    /// runs the kernel's own services and never ran a program in this mode.
    ///
    /// Symmetric: `min(queuePairs, onlineCPUs)` contexts, context i's interrupt on CPU i;
    /// programs may run on every CPU. An explicit `net-cpu=`/`net-cpus=` is an error
    /// (`.networkCPUsInSymmetricMode`). With zero queue pairs there is no context.
    public static func plan(options: BootOptions, onlineCPUs: Int, queuePairs: Int) -> Result<NetworkPlacement, NetworkPlacementError> {
        switch options.networkMode {
        case .dedicated:
            // The parser never leaves the list empty; a hand-built empty one means the default.
            let networkCPUs = options.networkCPUs.isEmpty ? [0] : options.networkCPUs
            for cpu in networkCPUs where cpu < 0 || cpu >= onlineCPUs {
                return .failure(.cpuNotOnline(cpu))
            }
            guard networkCPUs.count <= queuePairs else {
                return .failure(.moreNetworkCPUsThanQueues(cpus: networkCPUs.count, queues: max(queuePairs, 0)))
            }
            var contexts: [Context] = []
            for (queuePair, cpu) in networkCPUs.enumerated() {
                contexts.append(Context(cpu: cpu, queuePair: queuePair))
            }
            var applicationCPUs: [Int] = []
            for cpu in 1..<max(onlineCPUs, 1) where !networkCPUs.contains(cpu) {
                applicationCPUs.append(cpu)
            }
            return .success(NetworkPlacement(mode: .dedicated, contexts: contexts, applicationCPUs: applicationCPUs,
                                             defaultProgramCPUs: applicationCPUs, onlineCPUs: onlineCPUs))

        case .symmetric:
            guard !options.networkCPUsGiven else { return .failure(.networkCPUsInSymmetricMode) }
            let cpus = max(onlineCPUs, 0)
            var contexts: [Context] = []
            for index in 0..<min(max(queuePairs, 0), cpus) {
                contexts.append(Context(cpu: index, queuePair: index))
            }
            var applicationCPUs: [Int] = []
            for cpu in 0..<cpus { applicationCPUs.append(cpu) }
            // With one queue pair, cpu0 takes every NIC interrupt and does the whole machine's
            // network work there, on top of the kernel's own services (it is the boot CPU). A
            // program on cpu0 would be interrupted by all traffic and would slow the network
            // down for every other program, so the default programs start on cpu1 and go on
            // upwards; cpu0 is used only when it is the only CPU. With several queue pairs the
            // interrupts and the network work are spread, cpu0 carries no more than its own
            // queue's share, and the default programs start on cpu0 like on any other CPU.
            var defaultProgramCPUs = applicationCPUs
            if contexts.count == 1 && cpus > 1 { defaultProgramCPUs.removeFirst() }
            return .success(NetworkPlacement(mode: .symmetric, contexts: contexts, applicationCPUs: applicationCPUs,
                                             defaultProgramCPUs: defaultProgramCPUs, onlineCPUs: onlineCPUs))
        }
    }
}
