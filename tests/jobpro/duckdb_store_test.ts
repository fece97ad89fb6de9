/** The store contract on the embedded DuckDB store, on a real file. */
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { tempDb } from "../helpers.ts";
import { storeContract } from "./store_contract.ts";

storeContract("DuckDB", async () => {
  const db = await tempDb();
  let store = await openDuckDBStore(db.path);
  return {
    get store() {
      return store;
    },
    set store(s) {
      store = s;
    },
    async reopen() {
      await store.close();
      store = await openDuckDBStore(db.path);
      return store;
    },
    cleanup: () => db.cleanup(),
  };
});
