# make smoke: a capped, chunked ingest of the bundled starter dialogs with probes into a
# temporary database, then one reply from it.
PYTHON ?= python3
STARTER = $(shell $(PYTHON) -c 'import chatterbot_corpus, pathlib; print(pathlib.Path(chatterbot_corpus.__file__).parent / "data" / "english")')

.PHONY: smoke
smoke:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m dbslm train "$(STARTER)" --db "$$tmp/smoke.sqlite3" --max-json-lines 40 \
		--json-chunk-size 200 --chunk-eval-percent 5 --eval-interval 2000 --eval-samples 4 \
		--eval-dataset "$(STARTER)/greetings.yml" --metrics-export "$$tmp/metrics.json" --profile-ingest && \
	$(PYTHON) -m dbslm chat --db "$$tmp/smoke.sqlite3" --no-starter --seed 1 --prompt "Hello, how are you?"
