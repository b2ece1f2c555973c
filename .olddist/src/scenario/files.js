/** Reads manifests from files, directories (recursively, in name order) and stdin (`-`). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { loadScenario } from './load.js';
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** A manifest larger than this is refused rather than parsed (a likely mistake, or an attack). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
export function readSources(paths, stdin = () => readFileSync(0, 'utf8')) {
    const sources = [];
    const issues = [];
    const problem = (file, message, hint) => {
        issues.push({ code: 'PODGATE_E_INPUT', severity: 'error', path: '', message, hint, file });
    };
    const visit = (path, top) => {
        let stats;
        try {
            stats = statSync(path);
        }
        catch {
            problem(path, `no such file or directory`, 'check the path given to -f');
            return;
        }
        if (stats.isDirectory()) {
            let entries;
            try {
                entries = readdirSync(path).sort();
            }
            catch (error) {
                problem(path, `cannot read directory: ${error.message}`, 'check its permissions');
                return;
            }
            for (const entry of entries) {
                if (entry.startsWith('.'))
                    continue;
                const child = join(path, entry);
                let childStats;
                try {
                    childStats = statSync(child);
                }
                catch {
                    continue;
                }
                if (childStats.isDirectory() || MANIFEST_EXTENSIONS.has(extname(entry).toLowerCase()))
                    visit(child, false);
            }
            return;
        }
        if (!top && !MANIFEST_EXTENSIONS.has(extname(path).toLowerCase()))
            return;
        if (stats.size > MAX_FILE_BYTES) {
            problem(path, `file is ${stats.size} bytes, larger than the ${MAX_FILE_BYTES}-byte limit`, 'split it, or pass only the manifests you need');
            return;
        }
        try {
            sources.push({ name: path, text: readFileSync(path, 'utf8') });
        }
        catch (error) {
            problem(path, `cannot read file: ${error.message}`, 'check its permissions');
        }
    };
    for (const path of paths) {
        if (path === '-')
            sources.push({ name: '<stdin>', text: stdin() });
        else
            visit(path, true);
    }
    return { sources, issues };
}
export function loadScenarioFromPaths(paths, options = {}) {
    const { sources, issues } = readSources(paths);
    const scenario = loadScenario(sources, options);
    return { ...scenario, issues: [...issues, ...scenario.issues] };
}
//# sourceMappingURL=files.js.map