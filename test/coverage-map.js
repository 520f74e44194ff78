// tap's coverage map: every test counts towards the coverage of the balancer's sources (src/),
// not of the stub backends in servers/ or of the test helpers.
export default () => 'src/**/*.ts';
