"""rota/domain"""
