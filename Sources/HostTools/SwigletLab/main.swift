/// swiglet-lab: Swiglet's experiment runner — `run`, `check` and `table`; `swiglet-lab --help` explains them.

import ExperimentKit
import Foundation

let status: LabExitStatus
do {
    switch try LabCommand.parse(Array(CommandLine.arguments.dropFirst())) {
    case .help(let subcommand):
        print(Usage.text(subcommand))
        status = .ok
    case .run(let options): status = Commands.run(options)
    case .check(let files): status = Commands.check(files)
    case .table(let directory): status = Commands.table(directory)
    }
} catch {
    let help = error.subcommand.map { "swiglet-lab \($0.rawValue) --help" } ?? "swiglet-lab --help"
    say("\(error.message) (see \(help))")
    status = .usage
}
exit(status.rawValue)
