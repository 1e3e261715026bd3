"""ch10-alignment: DPO, IPO, KTO, ORPO and SLiC losses held to trl, a Bradley-Terry reward
model, and DPO on the default model judged by a programmatic judge."""
