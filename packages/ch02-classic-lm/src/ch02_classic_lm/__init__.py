"""Classic language models: n-gram smoothing, RNN/LSTM/GRU from scratch, seq2seq with attention.

Public API (torch is imported only by the modules that need it)::

    from ch02_classic_lm.ngram import NgramLM, tokenize          # 7 smoothings, perplexity
    from ch02_classic_lm.arpa import write_arpa, ArpaModel        # ARPA export and reader
    from ch02_classic_lm.markov import MarkovSource               # known entropy rate
    from ch02_classic_lm.bleu import corpus_bleu, corpus_rouge    # BLEU (13a), ROUGE
    from ch02_classic_lm.rnn import Cell, Recurrent, CharLM       # cells written out
    from ch02_classic_lm.seq2seq import Seq2Seq, greedy, beam_search, train_seq2seq
    from ch02_classic_lm.compare import compare_models            # why transformers won
"""

__version__ = "0.1.0"
