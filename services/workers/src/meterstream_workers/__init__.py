"""faust-streaming workers: raw topics in, derived topics out."""
