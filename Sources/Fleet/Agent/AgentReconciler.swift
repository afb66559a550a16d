/// Plans the tasks that turn what this machine runs into what the cluster wants. Pure: no I/O, so
/// every case is a unit test and a pass costs microseconds.
///
/// Per unit (fleet's rules):
/// * a file present but not desired: unload ("unit loaded but not scheduled here");
/// * desired but no file: load ("unit scheduled here but not loaded");
/// * file with another hash (or an unknown one): unload, then load ("unit loaded but hash differs to
///   expected"); the unit counts as stopped afterwards, so a launched unit is started again;
/// * desired `launched` but not started: start; desired `loaded` but started: stop.
///
/// One daemon-reload follows the loads and unloads if there is any, or if an earlier pass left one
/// pending. Tasks are ordered unload → load → reload → stop → start, by unit name within each kind.
public enum AgentReconciler {
    /// The tasks for one pass. For duplicate names in `desired` the last wins; `inactive` entries
    /// count as not desired.
    public static func plan(desired: [DesiredUnit], current: LocalUnitState) -> [AgentTask] {
        var wanted: [String: DesiredUnit] = [:]
        for unit in desired where unit.targetState != .inactive { wanted[unit.name] = unit }
        var tasks: [AgentTask] = []

        for name in current.files.keys where wanted[name] == nil {
            tasks.append(.unload(name, reason: .loadedButNotScheduled))
        }
        for unit in wanted.values {
            var launched = current.launched.contains(unit.name)
            if let file = current.files[unit.name] {
                if file.hash != unit.hash {
                    tasks.append(.unload(unit.name, reason: .hashDiffers))
                    tasks.append(.load(unit, reason: .hashDiffers))
                    launched = false
                }
            } else {
                tasks.append(.load(unit, reason: .scheduledButNotLoaded))
                launched = false
            }
            switch unit.targetState {
            case .launched where !launched:
                tasks.append(.start(unit.name, reason: .desiredLaunched))
            case .loaded where launched:
                tasks.append(.stop(unit.name, reason: .desiredLoaded))
            default:
                break
            }
        }
        if current.reloadPending || tasks.contains(where: { $0.kind == .load || $0.kind == .unload }) {
            tasks.append(.reloadUnitFiles())
        }
        return tasks.sorted(by: AgentTask.precedes)
    }

    /// The tasks that remove everything the agent runs (on SIGTERM): unload every unit file (each
    /// unload stops first), then reload.
    public static func purge(current: LocalUnitState) -> [AgentTask] {
        var tasks = current.files.keys.map { AgentTask.unload($0, reason: .purging) }
        if !tasks.isEmpty || current.reloadPending { tasks.append(.reloadUnitFiles(reason: .purging)) }
        return tasks.sorted(by: AgentTask.precedes)
    }
}
