// The public API of nestjs-yosai/testing: helpers for testing an app that uses nestjs-yosai, and a store
// against the SessionStore contract. Test code only: the package root never imports this entry.
export { ManualClock } from './manual.clock.js';
export {
  sessionStoreContract,
  contractId,
  type ContractAssertion,
  type ContractStore,
  type ContractTestApi,
  type SessionStoreContractOptions,
} from './session-store.contract.js';
export { signInForTest, type AppProviders, type TestSignInOptions } from './sign-in.js';
