// era_storage.js: the storage proxy's JavaScript module name, for code that does
// require('./era_storage.js'): KVStorage, D1Storage, R2Storage over duro.
module.exports = require('./index.cjs');
