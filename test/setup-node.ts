// Node has no IndexedDB: give every test file fake-indexeddb's globals. Tests that need isolation pass their own
// `new IDBFactory()` through the `indexedDB` option.
import 'fake-indexeddb/auto';
