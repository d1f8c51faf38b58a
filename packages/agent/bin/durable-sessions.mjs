#!/usr/bin/env node
// The built CLI lives in dist/ (npm run build); this file exists before the build, so npm can link it.
import '../dist/cli.mjs'
