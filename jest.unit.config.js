// `npm run test:unit`: the unit project of jest.config.js on its own.
import { globals, unit } from './jest.config.js';

export default { ...globals, ...unit };
