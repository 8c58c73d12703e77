/// A results directory's derived files from its raw.csv and metadata.json: summary.csv, ratios.csv and the Markdown table.

/// What `swiglet-lab run` writes at its end and `swiglet-lab table` prints, made the same way
/// by both: always from raw.csv's records and the experiment text metadata.json keeps, so a
/// table can be remade from any results directory, an interrupted one included.
public struct ResultsReport: Sendable {
    public let summary: [SummaryRow]
    public let ratios: [RatioRow]
    /// The baseline the ratios divide by: the experiment's, when it has runs here.
    public let baseline: String?
    public let caption: TableCaption
    /// Targets in the experiment file's order.
    private let targetOrder: [String]

    /// The report of `records`, ordered and captioned by `experiment` and `metadata`.
    public init(records: [RunRecord], experiment: Experiment?, metadata: RunMetadata, resultsPath: String) {
        summary = Summary.rows(records, experiment: experiment)
        let recordedTargets = Set(records.map(\.target))
        if let wanted = experiment?.baseline, recordedTargets.contains(wanted), recordedTargets.count > 1 {
            baseline = wanted
            ratios = Summary.ratios(summary, baseline: wanted, records: records)
        } else {
            baseline = nil
            ratios = []
        }
        caption = TableCaption(metadata, resultsPath: resultsPath)
        targetOrder = experiment?.targets.map(\.name) ?? []
    }

    /// summary.csv's text.
    public var summaryCSV: String { SummaryCSV.text(summary) }

    /// ratios.csv's text (only its header when there is no baseline to divide by).
    public var ratiosCSV: String { RatioCSV.text(ratios) }

    /// The Markdown table, with the caption (experiment, date, commit, path).
    public var markdown: String {
        MarkdownTable.text(summary: summary, ratios: ratios, caption: caption, targets: targetOrder)
    }
}
