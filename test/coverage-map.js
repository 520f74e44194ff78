// tap's coverage map: every test counts towards the coverage of the balancer's sources (src/),
// not of the stub backends in servers/ or of the test helpers.
//
// tap's runner loads this module just after it has named, in the environment its test processes
// inherit, the files its process tracker (@tapjs/processinfo) leaves out. The tracker hooks every
// module a test process loads: it reads the file again, copies its text to the main thread,
// counts its line lengths and looks up its source map, tap's own modules in node_modules too,
// which are most of what a test process loads before its first test. Coverage is of src/ alone,
// so node_modules is left out of the tracking as well: tap's pattern, plus node_modules.
process.env['_TAPJS_PROCESSINFO_EXCLUDE_'] = String(/(^(node|tapmock):|[\\/](\.tap|tap-snapshots|node_modules)[\\/])/);

export default () => 'src/**/*.ts';
