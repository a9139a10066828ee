// `npm run test:e2e`: the e2e project of jest.config.js on its own.
import { e2e, globals } from './jest.config.js';

export default { ...globals, ...e2e };
